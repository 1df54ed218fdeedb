/* kairan: the issue editor's autosave (issue 15). Served from /static/editor.js under the
   editor page's CSP (script-src 'self', connect-src 'self'; nothing inline). About 3 s after
   the last change to a field of form#editor it posts the form (with its csrf field) to the
   form's own save route in the background and says "Saved HH:MM" in #autosave-status
   (aria-live). Without JavaScript the Save button does the same. */
(function () {
  'use strict';
  var form = document.getElementById('editor');
  var status = document.getElementById('autosave-status');
  if (!form || !status || !form.querySelector('#save') || !window.fetch) { return; }
  var timer = null, busy = false, again = false;

  function hhmm() {
    var d = new Date();
    return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
  }

  function save() {
    timer = null;
    if (busy) { again = true; return; }
    busy = true;
    status.textContent = status.getAttribute('data-saving');
    fetch(form.action, {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      credentials: 'same-origin',
      redirect: 'manual'
    }).then(function (r) {
      /* The save route answers 303 (to the editor) when it stored the draft. */
      var ok = r.type === 'opaqueredirect' || (r.status >= 300 && r.status < 400);
      status.textContent = ok ? status.getAttribute('data-saved') + ' ' + hhmm()
        : status.getAttribute('data-failed');
      status.className = ok ? 'hint autosave' : 'hint autosave error';
    }, function () {
      status.textContent = status.getAttribute('data-failed');
      status.className = 'hint autosave error';
    }).then(function () {
      busy = false;
      if (again) { again = false; save(); }
    });
  }

  function changed(e) {
    var t = e.target;
    if (!t || !t.name || t.name === 'csrf' || t.readOnly) { return; }
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 3000);
  }
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  /* A manual save goes through the form as before; no background save races it. */
  form.addEventListener('submit', function () { if (timer) { clearTimeout(timer); timer = null; } });

  /* The schedule picker: "in 3 days" as the value changes. data-now is the current time in
     the schedule's zone, in the picker's own format (YYYY-MM-DDTHH:MM). */
  var at = document.getElementById('send_at');
  var rel = document.getElementById('send-at-rel');
  if (at && rel) {
    var parse = function (s) {
      var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(s || '');
      return m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]) : NaN;
    };
    var base = parse(rel.getAttribute('data-now')), loaded = Date.now();
    var show = function () {
      var t = parse(at.value);
      if (isNaN(t) || isNaN(base)) { rel.textContent = ''; return; }
      var mins = Math.round((t - (base + (Date.now() - loaded))) / 60000);
      var ja = document.documentElement.lang === 'ja', n, s;
      if (mins <= 1) { s = ja ? 'まもなく' : 'now'; }
      else if (mins < 60) { s = ja ? mins + '分後' : 'in ' + mins + ' minute' + (mins === 1 ? '' : 's'); }
      else if (mins < 2880) { n = Math.floor(mins / 60); s = ja ? n + '時間後' : 'in ' + n + ' hour' + (n === 1 ? '' : 's'); }
      else { n = Math.floor(mins / 1440); s = ja ? n + '日後' : 'in ' + n + ' days'; }
      rel.textContent = s;
    };
    at.addEventListener('input', show);
    at.addEventListener('change', show);
    show();
  }
}());
