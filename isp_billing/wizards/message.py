"""Send Message: shows the recipients and their count, then queues the
message (isp.message.send); the selection and the sending are model
methods of isp.message."""
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.wizard import Button, StateTransition, StateView, Wizard


class SendMessageStart(ModelView):
    "Send Message"
    __name__ = 'isp.message.send.start'
    __string__ = "Send Message"

    message = fields.Many2One('isp.message', "Message", readonly=True)
    recipient_count = fields.Integer("Recipients", readonly=True)
    channels = fields.Char("Channels", readonly=True)
    recipients = fields.Many2Many(
        'party.party', None, None, "Recipients (first ones)", readonly=True)


class SendMessage(Wizard):
    "Send Message"
    __name__ = 'isp.message.send'
    __string__ = "Send Message"

    start = StateView('isp.message.send.start',
        'isp_billing.message_send_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-ok', default=True),
            ])
    send = StateTransition()

    def default_start(self, fields):
        Message = Pool().get('isp.message')
        message = self.record
        count, ids = message.recipient_preview()
        channels = dict(Message.fields_get(
                ['channel_email', 'channel_portal', 'channel_sms']))
        return {
            'message': message.id,
            'recipient_count': count,
            'recipients': ids,
            'channels': ', '.join(channels['channel_' + c]['string']
                for c in message.channels),
            }

    def transition_send(self):
        Message = Pool().get('isp.message')
        Message.send([self.record])
        return 'end'

    def end(self):
        return 'reload'
