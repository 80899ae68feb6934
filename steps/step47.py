"""Step 47: softmax and cross entropy, for classification.

A classifier outputs one score per class. ``softmax`` turns a row of scores
into probabilities: p_k = exp(s_k) / sum_j exp(s_j), positive and summing to 1.
The cross entropy loss of a sample whose true class is t is -log p_t; the
training loss is its mean over the batch.

``F.softmax_cross_entropy(scores, t)`` computes both at once, from
log-softmax (the log-sum-exp trick), so huge scores do not overflow; its
gradient with respect to the scores is (p - onehot(t)) / N. ``get_item``
(``x[1]``, ``x[:, 0]``, ``x[[0, 0, 1]]``) picks elements and sends gradients
back to where they came from.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero import Variable
from dezero.models import MLP


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    y = x[[0, 0, 1]]  # rows 0, 0 and 1
    y.backward()
    take = [y.shape, x.grad.data]
    print(f"x[[0, 0, 1]] has shape {y.shape}; x.grad = {x.grad.data.tolist()} (row 0 was taken twice)")

    np.random.seed(0)
    model = MLP((10, 3))
    points = np.array([[0.2, -0.4], [0.3, 0.5], [1.3, -3.2], [2.1, 0.3]])
    t = np.array([2, 0, 1, 0])
    scores = model(points)
    p = F.softmax(scores)
    print("scores:\n", np.round(scores.data, 4))
    print("softmax:\n", np.round(p.data, 4))
    print(f"each row sums to 1: {np.allclose(p.data.sum(axis=1), 1.0)}")
    # The book's first softmax: exp and sum, no Function of its own; same numbers.
    p_simple = F.softmax_simple(scores)
    loss_simple = F.softmax_cross_entropy_simple(scores, t)
    print(
        f"softmax_simple agrees: {np.allclose(p_simple.data, p.data)}; "
        f"softmax_cross_entropy_simple = {loss_simple.data.item():.6f}"
    )

    loss = F.softmax_cross_entropy(scores, t)
    by_hand = -np.mean(np.log(p.data[np.arange(len(t)), t]))
    print(f"softmax_cross_entropy = {loss.data.item():.6f}; mean of -log p[t] by hand = {by_hand:.6f}")

    s = Variable(scores.data.copy())
    F.softmax_cross_entropy(s, t).backward()
    onehot = np.eye(3)[t]
    print(f"gradient w.r.t. the scores is (p - onehot(t)) / N: {np.allclose(s.grad.data, (p.data - onehot) / len(t))}")

    big = Variable(np.array([[1000.0, 0.0, -1000.0]]))
    right = F.softmax_cross_entropy(big, np.array([0])).data.item() + 0.0  # + 0.0 turns -0.0 into 0.0
    wrong = F.softmax_cross_entropy(big, np.array([2])).data.item()
    print(f"scores of +-1000: loss {right} for the right class, {wrong} for the wrong one (finite, no overflow)")

    return {
        "take": take,
        "scores": scores.data,
        "t": t,
        "p": p.data,
        "p_simple": p_simple.data,
        "loss": loss.data.item(),
        "loss_simple": loss_simple.data.item(),
        "scores_grad": s.grad.data,
        "big_right": right,
        "big_wrong": wrong,
    }


if __name__ == "__main__":
    main()
