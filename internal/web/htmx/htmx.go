// Package htmx reads the request headers htmx sends and sets the response
// headers it obeys, in one place (the shape of pagoda's pkg/htmx).
//
// The one rule the handlers need is Fragment: only an HTMX request that is
// not a boosted navigation is answered with the fragment that asked. A
// boosted link or form (hx-boost) is a full-page navigation: it gets the
// whole page, or a redirect, like a browser without JavaScript.
package htmx

import "net/http"

// Request headers (https://htmx.org/reference/#request_headers).
const (
	HeaderRequest        = "HX-Request"
	HeaderBoosted        = "HX-Boosted"
	HeaderTarget         = "HX-Target"
	HeaderTrigger        = "HX-Trigger"
	HeaderTriggerName    = "HX-Trigger-Name"
	HeaderCurrentURL     = "HX-Current-URL"
	HeaderHistoryRestore = "HX-History-Restore-Request"
)

// Response headers (https://htmx.org/reference/#response_headers).
const (
	HeaderRedirect = "HX-Redirect"
	HeaderLocation = "HX-Location"
	HeaderPushURL  = "HX-Push-Url"
	HeaderReswap   = "HX-Reswap"
	HeaderRetarget = "HX-Retarget"
	HeaderRefresh  = "HX-Refresh"
)

// Request is what htmx said about a request.
type Request struct {
	Enabled        bool   // HX-Request: the request was made by htmx
	Boosted        bool   // HX-Boosted: a boosted link or form, i.e. a page navigation
	HistoryRestore bool   // HX-History-Restore-Request: a history miss asking for the page
	Target         string // HX-Target: id of the target element
	Trigger        string // HX-Trigger: id of the element that triggered the request
	TriggerName    string // HX-Trigger-Name: name of that element
	CurrentURL     string // HX-Current-URL: the browser's URL when the request was made
}

// Of reads r's htmx headers. htmx sends the flags as the text "true";
// anything else is false.
func Of(r *http.Request) Request {
	h := r.Header
	return Request{
		Enabled:        h.Get(HeaderRequest) == "true",
		Boosted:        h.Get(HeaderBoosted) == "true",
		HistoryRestore: h.Get(HeaderHistoryRestore) == "true",
		Target:         h.Get(HeaderTarget),
		Trigger:        h.Get(HeaderTrigger),
		TriggerName:    h.Get(HeaderTriggerName),
		CurrentURL:     h.Get(HeaderCurrentURL),
	}
}

// Fragment reports whether the reply should be only the component that made
// the request: an HTMX request that is not a boosted navigation.
func (r Request) Fragment() bool { return r.Enabled && !r.Boosted }

// Response is the htmx response headers of a reply; empty fields are not
// sent.
type Response struct {
	Redirect string // HX-Redirect: a full page load of this URL
	Location string // HX-Location: an HTMX navigation to this URL, no full reload
	PushURL  string // HX-Push-Url: push this URL into the history ("false" prevents it)
	Reswap   string // HX-Reswap: how to swap the reply (innerHTML, outerHTML, …)
	Retarget string // HX-Retarget: a CSS selector to swap the reply into instead
	Refresh  bool   // HX-Refresh: reload the whole page
}

// Apply sets the response headers on h (before the reply is written).
func (r Response) Apply(h http.Header) {
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderRedirect, r.Redirect)
	set(HeaderLocation, r.Location)
	set(HeaderPushURL, r.PushURL)
	set(HeaderReswap, r.Reswap)
	set(HeaderRetarget, r.Retarget)
	if r.Refresh {
		h.Set(HeaderRefresh, "true")
	}
}
