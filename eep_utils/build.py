"""`python -m eep_utils.build`: the book's build command; the pipeline itself is `eep_utils.book.build`."""
import sys

from eep_utils.book.build import main

if __name__ == "__main__":
    sys.exit(main())
