"""Exceptions raised to ISP staff; their texts live in message.xml."""
from trytond.exceptions import UserError, UserWarning
from trytond.model.exceptions import AccessError, ValidationError


class ServiceValidationError(ValidationError):
    pass


class RouterValidationError(ValidationError):
    pass


class PlanValidationError(ValidationError):
    pass


class ServiceStateError(UserError):
    pass


class ServiceDeleteError(AccessError):
    pass


class RouterConnectionError(UserError):
    pass


class CancelServiceWarning(UserWarning):
    pass
