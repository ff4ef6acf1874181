/*! partli.js — referral attribution for the merchant's own site. No dependencies, no build step.
 *
 *   <script src="https://partli.example/static/partli.js" data-cookie-days="90" defer></script>
 *
 * - ?pref_cid=<click id> (added by Partli's /r/{slug} redirect): the click id is kept in a
 *   first-party cookie pref_cid on this site for data-cookie-days days (SameSite=Lax).
 * - ?via=<slug> (a deep link to this site): the click is recorded with POST /api/track/click
 *   on Partli (data-api, default: where this script comes from) and its id kept the same way.
 * - window.Partli.getClickId() returns the click id (or null); window.Partli.ready is a promise
 *   that settles once a ?via= click is recorded.
 * - The click id goes to Stripe as client_reference_id: on Payment Links (buy.stripe.com),
 *   on <stripe-buy-button> and <stripe-pricing-table>, and into stripe.redirectToCheckout().
 * - When the partner has a code (?pref_code= from the redirect, or the click API's answer), it is
 *   kept beside the click id in a pref_code cookie, with the same lifetime, and stamped on Payment
 *   Links as prefilled_promo_code: one link carries the attribution and the customer's discount.
 *   A later click without a code forgets it. window.Partli.getCode() returns it (or null).
 */
(function (window, document) {
  "use strict";
  if (window.Partli && window.Partli.version) return; // loaded twice

  var COOKIE = "pref_cid";
  var CLICK_ID = /^c_[0-9a-z]{1,64}$/;
  var CODE_COOKIE = "pref_code";
  var CODE = /^[A-Za-z0-9_-]{3,32}$/;
  var script = document.currentScript;
  var attr = function (name) {
    return script ? script.getAttribute(name) : null;
  };
  var days = parseInt(attr("data-cookie-days"), 10);
  if (!(days > 0)) days = 90;
  var api = attr("data-api");
  if (!api && script && script.src) api = new URL(script.src, window.location.href).origin;
  api = (api || "").replace(/\/+$/, "");
  var cookieDomain = attr("data-cookie-domain"); // e.g. "example.com" to share across subdomains

  function readNamed(name, pattern) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        var v = decodeURIComponent(parts[i].slice(eq + 1));
        return pattern.test(v) ? v : null;
      }
    }
    return null;
  }

  function readCookie() {
    return readNamed(COOKIE, CLICK_ID);
  }

  function readCode() {
    return readCookie() ? readNamed(CODE_COOKIE, CODE) : null;
  }

  function setCookie(name, value, maxAge) {
    var c = name + "=" + encodeURIComponent(value) + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax";
    if (cookieDomain) c += "; Domain=" + cookieDomain;
    if (window.location.protocol === "https:") c += "; Secure";
    document.cookie = c;
  }

  // store keeps a click id and, beside it, the partner's code (or forgets
  // the code of an earlier click when this one has none).
  function store(id, code) {
    if (!CLICK_ID.test(id || "")) return false;
    setCookie(COOKIE, id, days * 86400);
    if (CODE.test(code || "")) setCookie(CODE_COOKIE, code, days * 86400);
    else if (readNamed(CODE_COOKIE, CODE)) setCookie(CODE_COOKIE, "", 0);
    stampAll();
    return true;
  }

  function getClickId() {
    return readCookie();
  }

  // Payment Links take ?client_reference_id=; the Buy Button and the pricing table take an attribute.
  var LINK_HOSTS = /^(buy\.stripe\.com|checkout\.stripe\.com)$/;

  // Payment Links (buy.stripe.com) also take ?prefilled_promo_code=; a
  // code the merchant put there is left alone.
  var PAYMENT_LINK_HOST = /^buy\.stripe\.com$/;

  function stampLink(a) {
    var id = readCookie();
    if (!id || !a.href) return;
    var u;
    try {
      u = new URL(a.href, window.location.href);
    } catch (e) {
      return;
    }
    if (!LINK_HOSTS.test(u.hostname)) return;
    var changed = false;
    if (u.searchParams.get("client_reference_id") !== id) {
      u.searchParams.set("client_reference_id", id);
      changed = true;
    }
    // The code this script put there before (data-partli-code) follows the
    // current one: replaced, or taken off when the latest click has none.
    var code = readCode();
    var current = u.searchParams.get("prefilled_promo_code");
    var ours = a.getAttribute("data-partli-code");
    if (PAYMENT_LINK_HOST.test(u.hostname) && (!current || current === ours) && current !== code) {
      if (code) u.searchParams.set("prefilled_promo_code", code);
      else u.searchParams.delete("prefilled_promo_code");
      if (code) a.setAttribute("data-partli-code", code);
      else a.removeAttribute("data-partli-code");
      changed = true;
    }
    if (changed) a.href = u.toString();
  }

  var WIDGETS = "stripe-buy-button, stripe-pricing-table";

  function stampWidget(el) {
    var id = readCookie();
    if (id && el.getAttribute("client-reference-id") !== id) el.setAttribute("client-reference-id", id);
  }

  // stampAll stamps root (an element added to the page, or the document) and what is inside it.
  function stampAll(root) {
    if (!readCookie()) return;
    root = root || document;
    if (root.nodeType === 1 && root.tagName === "A") stampLink(root);
    if (root.nodeType === 1 && root.matches && root.matches(WIDGETS)) stampWidget(root);
    if (!root.querySelectorAll) return;
    var links = root.querySelectorAll('a[href*="buy.stripe.com"], a[href*="checkout.stripe.com"]');
    for (var i = 0; i < links.length; i++) stampLink(links[i]);
    var widgets = root.querySelectorAll(WIDGETS);
    for (var j = 0; j < widgets.length; j++) stampWidget(widgets[j]);
  }

  // Stripe.js: wrap stripe.redirectToCheckout so a client-only Checkout carries the click id.
  // (A server-created session, {sessionId}, takes no other options: set client_reference_id there.)
  function wrapStripe(Stripe) {
    if (typeof Stripe !== "function" || Stripe.__partli) return Stripe;
    var wrapped = function () {
      var stripe = Stripe.apply(this, arguments);
      var redirect = stripe && stripe.redirectToCheckout;
      if (typeof redirect === "function") {
        stripe.redirectToCheckout = function (options) {
          var id = readCookie();
          if (id && options && !options.sessionId && !options.clientReferenceId) {
            options = Object.assign({}, options, { clientReferenceId: id });
          }
          return redirect.call(stripe, options);
        };
      }
      return stripe;
    };
    for (var k in Stripe) if (Object.prototype.hasOwnProperty.call(Stripe, k)) wrapped[k] = Stripe[k];
    wrapped.__partli = true;
    return wrapped;
  }

  function hookStripe() {
    if (window.Stripe) {
      window.Stripe = wrapStripe(window.Stripe);
      return;
    }
    // Stripe.js not loaded yet: wrap it when it sets window.Stripe.
    var current;
    try {
      Object.defineProperty(window, "Stripe", {
        configurable: true,
        enumerable: true,
        get: function () {
          return current;
        },
        set: function (v) {
          current = wrapStripe(v);
        },
      });
    } catch (e) {
      /* leave window.Stripe alone */
    }
  }

  function recordVia(slug) {
    if (!api || !window.fetch) return Promise.resolve(readCookie());
    return window
      .fetch(api + "/api/track/click", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ slug: slug, url: window.location.href, referrer: document.referrer || "" }),
      })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (body && store(body.clickId, body.code)) {
          try {
            window.sessionStorage.setItem("partli_via", slug + " " + window.location.href);
          } catch (e) {
            /* private mode */
          }
        }
        return readCookie();
      })
      .catch(function () {
        return readCookie();
      });
  }

  var query = new URLSearchParams(window.location.search);
  var ready;
  var cid = query.get("pref_cid");
  var via = query.get("via");
  if (cid && store(cid, query.get("pref_code"))) {
    // From Partli's redirect: the click is recorded already (it also added ?via=).
    ready = Promise.resolve(readCookie());
  } else if (via && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(via)) {
    var seen = null;
    try {
      seen = window.sessionStorage.getItem("partli_via");
    } catch (e) {
      /* private mode */
    }
    // A reload of the same deep link is not a new click.
    ready = seen === via + " " + window.location.href && readCookie() ? Promise.resolve(readCookie()) : recordVia(via);
  } else {
    ready = Promise.resolve(readCookie());
  }

  hookStripe();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      stampAll();
    });
  } else {
    stampAll();
  }
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        for (var j = 0; j < records[i].addedNodes.length; j++) {
          var n = records[i].addedNodes[j];
          if (n.nodeType === 1) stampAll(n);
        }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  window.Partli = {
    version: "1",
    getClickId: getClickId,
    getCode: readCode,
    ready: ready,
    stamp: function () {
      stampAll();
    },
  };
})(window, document);
