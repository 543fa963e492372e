/* isp_billing: loaded by sao's index.html right after tryton-sao.js
   (make sao copies it to the web client's folder). */
(function() {
    'use strict';

    /* sao 8.0.11: when a form is redrawn (e.g. because another field lost
       the focus), a selection widget rebuilds its options and puts the
       record's value back only in a deferred callback. Until then it shows
       its first option, and a button clicked in that moment reads and saves
       the first option: Extend saved "Compensation" whatever reason was
       chosen. Keep the record's value selected while the options are
       rebuilt. */
    var Selection = Sao.View.Form.Selection;
    var set_selection = Selection.prototype.set_selection;
    Selection.prototype.set_selection = function(selection, help) {
        var previous = this.select.val();
        set_selection.call(this, selection, help);
        var wanted = previous;
        if (this.record && this.field) {
            wanted = JSON.stringify(this.field.get(this.record));
        }
        var found = this.select.find('option').filter(function() {
            return this.value === wanted;
        });
        if (found.length) {
            this.select.val(wanted);
        }
    };

    /* sao 8.0.11 has no list column for timestamp and datetime fields: a
       list with one fails ("ColumnFactory is not a constructor"), so lists
       showed a date column and a time column with the same title. One
       column: the user's date format and the time to the minute (the
       fields keep their seconds: a form widget with a shorter format would
       rewrite the value it shows and mark the record modified). */
    var WIDGETS = Sao.View.TreeXMLViewParser.WIDGETS;
    var DateTimeColumn = Sao.class_(Sao.View.Tree.CharColumn, {
        class_: 'column-datetime',
        get_textual_value: function(record) {
            var value = this.field.get_client(record);
            if (!value) {
                return '';
            }
            return Sao.common.format_datetime(
                this.field.date_format(record) + ' %H:%M', value);
        }
    });
    if (!WIDGETS.timestamp) {
        WIDGETS.timestamp = DateTimeColumn;
    }
    if (!WIDGETS.datetime) {
        WIDGETS.datetime = DateTimeColumn;
    }

    /* Forms: a readonly timestamp or datetime widget shows the moment to
       the minute too (a payment's date, paid until...), not with seconds
       and microseconds. Nobody edits it, so it gives back the record's own
       value: the shorter text is never parsed into the record, which stays
       unmodified. Editable widgets keep the full format. */
    var DateTime = Sao.View.Form.DateTime;
    var display = DateTime.prototype.display;
    var get_value = DateTime.prototype.get_value;
    DateTime.prototype.display = function() {
        display.apply(this, arguments);
        if (this._readonly && this.record && this.field) {
            var value = this.field.get_client(this.record);
            this.date.val(value ? Sao.common.format_datetime(
                this.field.date_format(this.record) + ' %H:%M', value) : '');
        }
    };
    DateTime.prototype.get_value = function() {
        if (this._readonly && this.record && this.field) {
            return this.field.get_client(this.record);
        }
        return get_value.apply(this, arguments);
    };
})();

/* isp_billing: the login banner (ISP Billing > Configuration > Login
   Banner). The login dialog is rebuilt by Sao.Session.login_dialog() at
   every login; wrap it to put the current banner, read from the public
   route /<db>/isp_billing/banner, on top of the form. The text goes in
   with .text(): it is never interpreted as HTML. */
(function() {
    'use strict';

    var login_dialog = Sao.Session.login_dialog;
    Sao.Session.login_dialog = function() {
        var dialog = login_dialog.apply(this, arguments);
        var banner = jQuery('<div/>', {
            'class': 'alert alert-info isp-login-banner',
            'role': 'note',
        }).hide().prependTo(dialog.body);
        var from_hash = window.location.hash.replace(
            /^(#(!|))/, '').split('/', 1)[0];
        jQuery.when(from_hash || Sao.DB.list()).then(function(dbs) {
            var db = (typeof dbs == 'string') ? dbs : (dbs || [])[0];
            if (!db) {
                return null;
            }
            return jQuery.getJSON(
                encodeURIComponent(db) + '/isp_billing/banner');
        }).then(function(data) {
            if (!data || !(data.text || data.image)) {
                return;
            }
            if (data.image &&
                    /^data:image\/(png|jpeg|gif|webp);base64,/.test(
                        data.image)) {
                banner.append(jQuery('<img/>', {
                    'src': data.image,
                    'alt': '',
                    'class': 'img-responsive isp-login-banner-image',
                }));
            }
            if (data.text) {
                banner.append(jQuery('<p/>', {
                    'class': 'isp-login-banner-text',
                    'css': {'white-space': 'pre-wrap', 'margin': 0},
                }).text(data.text));
            }
            banner.show();
        }, function() {
            // no banner (unknown database, module not activated): nothing
        });
        return dialog;
    };
})();
