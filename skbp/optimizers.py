"""Update rules that work in place on the flat parameter and gradient arrays."""


class SGD:
    """Plain stochastic gradient descent: ``params -= learning_rate * grads``.

    Parameters
    ----------
    learning_rate_init : float
        Step size.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate = learning_rate_init

    def update(self, params, grads):
        """Take one step in place."""
        params -= self.learning_rate * grads


OPTIMIZERS = {"sgd": SGD}
