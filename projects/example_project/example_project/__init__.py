from .entropy_loss import EntropyMinimisationLoss

__all__ = ['EntropyMinimisationLoss']
