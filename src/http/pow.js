/* kairan: proof of work for the subscribe form (subscribe.proof_of_work). Served from
   /static/pow.js under the pages' strict CSP (script-src 'self', nothing inline). Finds a
   nonce such that SHA-256("<challenge>:<nonce>") starts with the form's data-pow-bits zero
   bits, fills the hidden pow_nonce field and enables the button. Works in small slices so the
   page stays responsive; nothing leaves the browser but the form itself. */
(function () {
  'use strict';
  var K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2];
  var W = new Array(64);

  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  /* SHA-256 of an ASCII string, as eight 32-bit words. */
  function sha256(msg) {
    var l = msg.length, n = ((l + 8) >> 6) * 16 + 16, w = new Array(n), i, j, t;
    for (i = 0; i < n; i++) { w[i] = 0; }
    for (i = 0; i < l; i++) { w[i >> 2] |= msg.charCodeAt(i) << (24 - (i & 3) * 8); }
    w[l >> 2] |= 0x80 << (24 - (l & 3) * 8);
    w[n - 1] = l * 8;
    var H = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
      0x1f83d9ab, 0x5be0cd19];
    for (j = 0; j < n; j += 16) {
      var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (t = 0; t < 64; t++) {
        if (t < 16) {
          W[t] = w[j + t] | 0;
        } else {
          var x = W[t - 15], y = W[t - 2];
          W[t] = (W[t - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[t - 7] +
            (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
        }
        var t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
          K[t] + W[t]) | 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0;
      H[3] = (H[3] + d) | 0; H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0;
      H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
    }
    return H;
  }

  function zeroBits(H) {
    var z = 0, i;
    for (i = 0; i < 8; i++) {
      var c = Math.clz32(H[i]);
      z += c;
      if (c < 32) { break; }
    }
    return z;
  }

  var form = document.querySelector('form[data-pow-bits]');
  if (!form) { return; }
  var bits = parseInt(form.getAttribute('data-pow-bits'), 10);
  var challenge = form.querySelector('input[name="pow_challenge"]');
  var nonce = form.querySelector('input[name="pow_nonce"]');
  var button = form.querySelector('button[type="submit"]');
  var status = document.getElementById('pow-status');
  if (!challenge || !nonce || !button || !(bits > 0)) { return; }
  if (status) { status.textContent = status.getAttribute('data-working'); status.hidden = false; }
  var prefix = challenge.value + ':', next = 0;
  function slice() {
    var end = next + 4000;
    for (; next < end; next++) {
      if (zeroBits(sha256(prefix + next)) >= bits) {
        nonce.value = String(next);
        button.disabled = false;
        form.setAttribute('data-pow-done', '1');
        if (status) { status.textContent = status.getAttribute('data-done'); }
        return;
      }
    }
    setTimeout(slice, 0);
  }
  setTimeout(slice, 0);
}());
