"""Errors of the pre-paid cycle (payments, extensions, plan changes).

Their texts live in message.xml."""
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class PaymentError(UserError):
    pass


class ExtensionError(UserError):
    pass


class PlanChangeError(UserError):
    pass


class ExtensionValidationError(ValidationError):
    pass


class PaymentRecordError(AccessError):
    pass
