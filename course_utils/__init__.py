"""Shared helpers for the deep-learning course notebooks (B1-1 ... B2-3).

Import what a notebook needs from here: ``from course_utils import get_data_cifar``.
Heavy libraries (TensorFlow, matplotlib, scikit-learn) load on first use, not on import.
"""

from .config import grading_mode, training_epochs
from .data import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    DatasetUnavailableError,
    class_names,
    find_dataset,
    get_data_cifar,
    get_data_fashion_mnist,
    get_data_mnist,
    load_dataset,
)
from .metrics import per_class_metrics
from .models import diagram_available, feature_maps, model_diagram, model_layers
from .plots import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_histories,
    plot_misclassified,
    plot_precision_recall,
    plot_result,
    random_plot,
)
from .training import OPTIMIZERS, check_environment, model_setup

__version__ = "1.0.0"

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "OPTIMIZERS",
    "DatasetUnavailableError",
    "check_environment",
    "class_names",
    "diagram_available",
    "feature_maps",
    "find_dataset",
    "get_data_cifar",
    "get_data_fashion_mnist",
    "get_data_mnist",
    "grading_mode",
    "load_dataset",
    "model_diagram",
    "model_layers",
    "model_setup",
    "per_class_metrics",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_histories",
    "plot_misclassified",
    "plot_precision_recall",
    "plot_result",
    "random_plot",
    "training_epochs",
]
