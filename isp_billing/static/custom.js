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
})();
