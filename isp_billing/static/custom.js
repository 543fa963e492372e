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
})();
