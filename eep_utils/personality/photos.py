"""Real pictures for the game of personality: a folder of images and a captions.csv with columns `file,caption`,
read into the same `Creatures` as the generated ones (without traits)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from eep_utils.personality.creatures import Creatures


class ImageFolderError(ValueError):
    """A folder of real images cannot be read as given; the message says what to fix."""


def load_image_folder(folder: str | Path, captions_file: str = "captions.csv", image_size: int = 64) -> Creatures:
    """Real pictures with their captions, resized to `image_size` squares (centre-cropped)."""
    folder = Path(folder)
    table_path = folder / captions_file
    if not table_path.is_file():
        raise ImageFolderError(f"{table_path} is missing: put a CSV with columns `file,caption` beside the images")
    with open(table_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise ImageFolderError(f"{table_path} must have a header line `file,caption`; found {reader.fieldnames}")
        entries = [(row["file"], row["caption"]) for row in reader]
    if not entries:
        raise ImageFolderError(f"{table_path} lists no images")

    images, captions = [], []
    for line, (name, caption) in enumerate(entries, start=2):
        if not name or not caption or not caption.strip():
            raise ImageFolderError(f"{table_path}, line {line}: both `file` and `caption` must be filled in")
        path = folder / name
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                side = min(image.size)
                left, top = (image.width - side) // 2, (image.height - side) // 2
                image = image.crop((left, top, left + side, top + side)).resize((image_size, image_size), Image.LANCZOS)
                images.append(np.asarray(image, np.uint8))
        except FileNotFoundError:
            raise ImageFolderError(f"{table_path}, line {line}: image {path} does not exist") from None
        except (UnidentifiedImageError, OSError) as error:
            raise ImageFolderError(f"{table_path}, line {line}: {path} is not a readable image ({error})") from None
        captions.append(re.sub(r"\s+", " ", caption.strip()))
    return Creatures(np.stack(images), captions, pd.DataFrame(index=range(len(captions))), source=f"image folder {folder}")
