"""The course's small CNN on a CIFAR-100 subset, in low-level TensorFlow 2 (tf.Variable + tf.nn, no Keras).

    python part2_tensorflow/cifar_tensorflow.py                  # needs `python dataset.py prepare cifar100 ...`
    python part2_tensorflow/cifar_tensorflow.py --seed 3 --num-classes 4
    python part2_tensorflow/cifar_tensorflow.py --demo           # generated CIFAR-shaped data

Network (N images, K classes), as in the course:

    x (N, 32, 32, 3) -> conv 3x3, 16 filters, "same" -> ReLU -> max-pool 2x2   (N, 16, 16, 16)
                     -> conv 3x3, 32 filters, "same" -> ReLU -> max-pool 2x2   (N, 8, 8, 32)
                     -> flatten (N, 2048) -> dense -> logits (N, K)

The seed picks the K CIFAR-100 classes (dataset.cifar100). Training is minibatch gradient descent on the
softmax cross-entropy, one tf.function step per batch (a static graph, TensorFlow 2's form of the course's
session.run). The evaluation graph is traced for a fixed batch size, like the course's placeholders, so the
last batch, when smaller, is padded with zeros, predicted, and its padded rows dropped.
A validation split carved from the training images picks the best epoch; the test split is used once.
The trained network is saved as a tf.saved_model of its tf.Module; the loaded object's `predict_logits(images)`
gives the logits. (Part 1's PyTorch network leaves its convolutions unpadded: 1152 features instead of 2048.)
"""
import argparse

import numpy as np

import util

util.import_tensorflow_quietly()  # before `import tensorflow`: its start-up notices are noise
import tensorflow as tf  # noqa: E402

import dataset  # noqa: E402
from tf_training import train_keeping_best, use_device

DEMO_EPOCHS = 4


class CifarCNN(tf.Module):
    """conv(3x3, 16) -> ReLU -> pool -> conv(3x3, 32) -> ReLU -> pool -> dense. Input (N, 32, 32, 3) NHWC."""

    def __init__(self, num_classes: int, seed: int = 0):
        super().__init__(name="cifar_cnn")
        rng = np.random.default_rng(seed)

        def he(*shape):  # He-normal: keeps the ReLU activations' scale from layer to layer
            return tf.Variable(rng.normal(0, np.sqrt(2.0 / np.prod(shape[:-1])), shape), dtype=tf.float32)

        self.conv1_w, self.conv1_b = he(3, 3, 3, 16), tf.Variable(tf.zeros([16]))
        self.conv2_w, self.conv2_b = he(3, 3, 16, 32), tf.Variable(tf.zeros([32]))
        self.dense_w, self.dense_b = he(8 * 8 * 32, num_classes), tf.Variable(tf.zeros([num_classes]))

    def __call__(self, images):
        """images: (N, 32, 32, 3) float32. Returns logits (N, K)."""
        x = tf.nn.relu(tf.nn.conv2d(images, self.conv1_w, strides=1, padding="SAME") + self.conv1_b)
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")           # (N, 16, 16, 16)
        x = tf.nn.relu(tf.nn.conv2d(x, self.conv2_w, strides=1, padding="SAME") + self.conv2_b)
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")           # (N, 8, 8, 32)
        return tf.matmul(tf.reshape(x, [-1, 8 * 8 * 32]), self.dense_w) + self.dense_b

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)], autograph=False)
    def predict_logits(self, images):
        """The saved model's entry point: logits (N, K) for images (N, 32, 32, 3) in [-0.5, 0.5]."""
        return self(images)


def to_nhwc(x: np.ndarray) -> np.ndarray:
    """CIFAR rows (N, 3072), channel-major, -> images (N, 32, 32, 3)."""
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def predict_padded(predict_batch, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Class ids (N,) from a function that only takes full batches of `batch_size` images.

    The last batch, when smaller, is padded with zero images and the predictions for the padding dropped.
    """
    pred = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        real = len(batch)
        if real < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - real, *batch.shape[1:]), batch.dtype)])
        pred.append(np.argmax(predict_batch(batch).numpy(), axis=1)[:real])
    return np.concatenate(pred)


def save_model(model: CifarCNN, class_names, directory) -> None:
    """directory/{saved_model/, classes.json}, built beside and renamed into place."""
    with util.atomic_dir(directory) as scratch:
        tf.saved_model.save(model, str(scratch / "saved_model"))
        util.save_json(list(class_names), scratch / "classes.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=30, batch_size=64, lr=0.05)
    parser.epilog = f"With --demo the default is {DEMO_EPOCHS} epochs."
    parser.add_argument("--num-classes", type=util.positive(), default=4,
                        help="CIFAR-100 classes picked by the seed (at least 2)")
    parser.add_argument("--valid-fraction", type=float, default=0.1,
                        help="share of the training images held out to pick the best epoch")
    util.add_threads_arg(parser, library="TensorFlow")
    args = util.parse_args(parser, epochs=DEMO_EPOCHS)
    util.check_valid_fraction(args.valid_fraction)
    util.use_threads(args.threads, "tensorflow")
    use_device(args.device)

    (train_x, train_y), (test_x, test_y) = dataset.cifar100(args.seed, args.num_classes, args.data_dir, args.demo)
    class_names = dataset.cifar100_class_names(args.seed, args.num_classes, args.data_dir, args.demo)
    keep, held = dataset.stratified_split(train_y, args.valid_fraction, args.seed)
    name = f"{'demo_' if args.demo else ''}cifar100_{args.num_classes}classes"  # as cifar_pytorch.py names it
    util.check_split(name, len(keep), len(held), args.valid_fraction, items="images")
    images, test_images = to_nhwc(train_x), to_nhwc(test_x)
    print(f"{name}, classes {', '.join(class_names)}: {len(keep)} train, {len(held)} validation, "
          f"{len(test_y)} test images")

    run = util.start_run(args, "cifar_tensorflow", name)
    tf.random.set_seed(args.seed)
    model = CifarCNN(args.num_classes, args.seed)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32), tf.TensorSpec([None], tf.int64)],
                 autograph=False)
    def train_step(batch, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, model(batch)))
        for var, grad in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
            var.assign_sub(args.lr * grad)
        return loss

    @tf.function(input_signature=[tf.TensorSpec([args.batch_size, 32, 32, 3], tf.float32)], autograph=False)
    def predict_batch(batch):
        return model(batch)

    rng = np.random.default_rng(args.seed)

    def epoch_batches(epoch):
        order = keep[rng.permutation(len(keep))]
        starts = range(0, len(order), args.batch_size)
        return (((images[idx], train_y[idx]) for idx in (order[i:i + args.batch_size] for i in starts)),
                len(starts))

    curves, best_epoch = train_keeping_best(
        model.trainable_variables, args.epochs, epoch_batches, train_step,
        lambda: np.mean(predict_padded(predict_batch, images[held], args.batch_size) == train_y[held]), "cifar")

    pred = predict_padded(predict_batch, test_images, args.batch_size)
    test_accuracy = float(np.mean(pred == test_y))
    print(f"test accuracy {test_accuracy:.2%} ({len(test_y)} images)")
    util.plot_curves(curves, run.path("curves.png"), title=f"{name}: course CNN",
                     kept=best_epoch)
    util.plot_confus_matrix(pred, test_y, title=f"{name}: course CNN", class_names=class_names,
                            path=run.path("confusion_matrix.png"))
    save_model(model, class_names, run.path("model"))
    run.finish({"test_accuracy": test_accuracy, "best_epoch": best_epoch,
                "best_valid_accuracy": max(curves["valid_accuracy"]),
                "classes": class_names, **curves, "lr": args.lr, "batch_size": args.batch_size})


if __name__ == "__main__":
    util.run_main(main)
