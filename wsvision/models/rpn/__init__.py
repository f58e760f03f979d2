from .rpn import RPN, RPNOutput

__all__ = ['RPN', 'RPNOutput']
