"""Step 58: VGG16, a famous pretrained network.

VGG16 (Simonyan & Zisserman, 2014) is thirteen 3x3 convolutions with ReLU in
five groups, each group ending in 2x2 max pooling, then three fully
connected layers; 138 million parameters trained on ImageNet's 1000 classes.
Everything it needs was built in the previous steps; ``dezero.models.VGG16``
only arranges it.

With ``pretrained=True`` the weights (about 530 MB) are fetched once into the
dezero cache (``$DEZERO_HOME``, default ``~/.dezero``) as ``vgg16.npz``; the
test image likewise (``zebra.jpg``, or pass ``--image``). The image is
resized to 224x224 and preprocessed the way the weights expect (BGR channel
order, ImageNet mean subtracted), and the network's five most likely classes
are printed: with names if ``imagenet_labels.txt`` (the 1000 class names,
one per line) is in the cache, as class ids otherwise.

Offline and without the files, the message says where to put them and the
script exits with status 1. ``--quick`` skips drawing the (large) graph.
"""

import os
import sys
import time

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero.datasets import ImageNet
from dezero.files import DownloadError, get_file
from dezero.models import VGG16
from dezero.visualize import GraphvizNotFoundError

from _quick import options  # steps/_quick.py: the --quick and --out switches

IMAGE_URL = "https://github.com/oreilly-japan/deep-learning-from-scratch-3/raw/images/zebra.jpg"


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(
        __doc__,
        extra=lambda p: p.add_argument(
            "--image", default=None, help="image file to classify (default: zebra.jpg from the cache)"
        ),
    )
    start = time.time()
    try:
        model = VGG16(pretrained=True)
        image_path = opts.image or get_file(IMAGE_URL)
    except (DownloadError, ValueError) as e:  # offline, or a damaged file: say what to do
        print(f"VGG16 needs its files: {e}", file=sys.stderr)
        sys.exit(1)
    n_params = sum(p.size for p in model.params())
    print(f"VGG16 loaded: {n_params:,} parameters ({time.time() - start:.1f} s)")

    from PIL import Image  # Pillow reads the image file

    image = Image.open(image_path)
    x = VGG16.preprocess(image)[np.newaxis]  # (1, 3, 224, 224), BGR, mean subtracted
    width, height = image.size
    print(f"image {os.path.basename(image_path)} {width}x{height} -> input {x.shape} {x.dtype}")

    start = time.time()
    with dezero.test_mode(), dezero.no_grad():  # test mode: dropout off
        scores = model(x)
        probs = F.softmax(scores).data[0]
    print(f"forward pass: {time.time() - start:.1f} s, output {scores.shape}")

    try:
        labels = ImageNet.labels()
    except FileNotFoundError as e:
        print(f"(no class names: {e})", file=sys.stderr)
        labels = {}
    top5 = [int(k) for k in np.argsort(probs)[::-1][:5]]
    for rank, k in enumerate(np.argsort(probs)[::-1][:5], start=1):
        print(f"  top {rank}: class {int(k):4d} {labels.get(int(k), ''):<30} p = {probs[k]:.4f}")

    if not opts.quick:
        try:
            path = model.plot(x, to_file=opts.path("step58_vgg16.png"))
            print(f"graph of the network drawn to {path}")
        except GraphvizNotFoundError as e:
            print(e, file=sys.stderr)

    return {
        "n_params": n_params,
        "input": [x.shape, str(x.dtype)],
        "output": scores.shape,
        "probabilities": [float(probs.sum()), float(probs.min())],
        "top5": top5,
        "labels": [labels.get(k, "") for k in top5],
    }


if __name__ == "__main__":
    main()
