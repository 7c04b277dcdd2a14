"""``python -m sparana_lite [--steps N]``: train (or load) the blog's LQ model and report it."""
import argparse

import sparana_lite as sl


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="lq-mnist", choices=sorted(sl.zoo.CONFIGS))
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default: the CI-sized count; the blog ran 20000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = sl.zoo.CONFIGS[args.model]
    steps = args.steps or config.default_steps
    print(f"{args.model}: {config.description}")
    print(f"cache file: {sl.zoo.path(args.model, args.seed, steps)}")
    model = sl.zoo.trained(args.model, seed=args.seed, steps=steps)
    data = sl.zoo.load_dataset(config.dataset)
    print(model)
    print(f"trained {steps} steps in {model.metadata['train_seconds']:.1f} s (when first trained)")
    print(f"test accuracy: {model.accuracy(data.x_test, data.y_test):.4f}")


if __name__ == "__main__":
    main()
