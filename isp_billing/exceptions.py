"""Exceptions raised to ISP staff; their texts live in message.xml."""
from trytond.exceptions import UserError
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


class PaymentError(UserError):
    "The pre-paid cycle refused a payment: nothing was written"


class ExtensionError(UserError):
    pass


class PlanChangeError(UserError):
    pass


class PaymentRecordError(AccessError):
    "Payments and extensions are a ledger: append-only"


class MessageError(UserError):
    "A message to customers cannot be sent as it is"


class BannerValidationError(ValidationError):
    pass


class RequestError(UserError):
    "A customer request or reply that cannot be taken as written"


class PortalError(UserError):
    "A portal login, invitation or password change that was refused"


class PortalMailError(PortalError):
    "A portal mail the SMTP server did not take: nothing it carried is kept"


class ReportError(UserError):
    "A report's filters cannot give figures (dates, currencies)"
