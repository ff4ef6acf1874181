package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ErrUndocumented is wrapped by the error Check returns when the request's
// method and path match no operation of the document.
var ErrUndocumented = errors.New("no documented operation")

// Validator checks HTTP exchanges against the OpenAPI document and remembers
// which operations it has seen. It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	ops    []string

	mu   sync.Mutex
	seen map[string]struct{}
}

// NewValidator builds a Validator on the embedded document.
func NewValidator() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apispec: build router: %w", err)
	}
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, operationKey(method, path))
		}
	}
	slices.Sort(ops)
	return &Validator{doc: doc, router: router, ops: ops, seen: make(map[string]struct{})}, nil
}

func operationKey(method, path string) string {
	return strings.ToUpper(method) + " " + path
}

// Operations lists every documented operation as "METHOD /path/{param}",
// sorted.
func (v *Validator) Operations() []string { return slices.Clone(v.ops) }

// Seen lists, sorted and in the form of Operations, the operations that
// Check has matched an exchange to (whether or not the exchange conformed).
func (v *Validator) Seen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.seen))
	for k := range v.seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Missing lists the documented operations that Check has not seen yet.
func (v *Validator) Missing() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, op := range v.ops {
		if _, ok := v.seen[op]; !ok {
			out = append(out, op)
		}
	}
	return out
}

// Check validates one exchange: the request req (whose body is given as
// reqBody; req.Body is not read) and the response status, header and body.
//
//   - The request must match a documented operation (else the error wraps
//     ErrUndocumented).
//   - The request is validated (security — any "Authorization: Bearer …" is
//     accepted —, path and query parameters, Content-Type and body). A request
//     that breaks the document is fine only if the server refused it: when it
//     answered a status below 400, Check fails.
//   - The status must be documented for the operation and the body must match
//     its schema (response schemas forbid undocumented fields).
func (v *Validator) Check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	r := req.Clone(context.Background())
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if len(reqBody) == 0 {
		r.Body = http.NoBody
		r.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		r.ContentLength = 0
	} else {
		body := bytes.Clone(reqBody)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}

	route, pathParams, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%w for %s %s: %v", ErrUndocumented, r.Method, r.URL.Path, err)
	}
	key := operationKey(route.Method, route.Path)
	v.mu.Lock()
	v.seen[key] = struct{}{}
	v.mu.Unlock()

	ctx := context.Background()
	reqOpts := &openapi3filter.Options{
		AuthenticationFunc:  anyBearer,
		SkipSettingDefaults: true,
		MultiError:          true,
	}
	reqOpts.WithCustomSchemaErrorFunc(shortSchemaError)
	reqInput := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: pathParams,
		Route:      route,
		Options:    reqOpts,
	}
	if reqErr := openapi3filter.ValidateRequest(ctx, reqInput); reqErr != nil && status < 400 {
		return fmt.Errorf("%s: server answered %d to a request the document forbids: %w", key, status, reqErr)
	}

	if header == nil {
		header = http.Header{}
	}
	respOpts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	respOpts.WithCustomSchemaErrorFunc(shortSchemaError)
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 status,
		Header:                 header,
		Options:                respOpts,
	}
	respInput.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, respInput); err != nil {
		return fmt.Errorf("%s: response %d does not match the document: %w", key, status, err)
	}
	if ref := route.Operation.Responses.Status(status); ref != nil && ref.Value != nil &&
		len(ref.Value.Content) == 0 && len(respBody) != 0 {
		return fmt.Errorf("%s: response %d must have no body, got %d bytes", key, status, len(respBody))
	}
	return nil
}

// shortSchemaError formats a schema error as its location and reason, with
// the offending value when it is a scalar, leaving out kin-openapi's dump of
// the whole schema and value.
func shortSchemaError(e *openapi3.SchemaError) string {
	if e.Origin != nil {
		return "" // the default: location plus the (customised) origin
	}
	reason := e.Reason
	if reason == "" {
		reason = fmt.Sprintf("does not match schema keyword %q", e.SchemaField)
	}
	msg := reason
	if p := e.JSONPointer(); len(p) > 0 && !strings.HasPrefix(strings.ToLower(reason), "error at") {
		msg = fmt.Sprintf("at %q: %s", "/"+strings.Join(p, "/"), reason)
	}
	switch e.Value.(type) {
	case map[string]any, []any:
	default:
		if b, err := json.Marshal(e.Value); err == nil && len(b) <= 200 {
			msg += " (got " + string(b) + ")"
		}
	}
	return msg
}

// anyBearer accepts any "Authorization: Bearer <token>" header.
func anyBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New(`no "Authorization: Bearer …" header`))
	}
	return nil
}

// CheckEvent validates the JSON body of an outbound webhook delivery of the
// given event type ("sale.created", "lead.created", "commission.created",
// "commission.updated") against the document's webhooks section.
func (v *Validator) CheckEvent(eventType string, body []byte) error {
	item := v.doc.Webhooks[eventType]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil || item.Post.RequestBody.Value == nil {
		return fmt.Errorf("apispec: undocumented webhook event type %q", eventType)
	}
	mt := item.Post.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return fmt.Errorf("apispec: webhook event %q has no JSON schema", eventType)
	}
	var value any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil {
		return fmt.Errorf("webhook event %q: invalid JSON: %w", eventType, err)
	}
	if err := mt.Schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(),
		openapi3.SetSchemaErrorMessageCustomizer(shortSchemaError)); err != nil {
		return fmt.Errorf("webhook event %q does not match the document: %w", eventType, err)
	}
	return nil
}

// Transport returns an http.RoundTripper that sends requests through next
// (http.DefaultTransport when nil) and Checks every exchange whose path
// starts with /api/, passing each failure (annotated with method and path)
// to report. The response body handed back to the caller is intact.
func (v *Validator) Transport(next http.RoundTripper, report func(error)) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &checkingTransport{v: v, next: next, report: report}
}

type checkingTransport struct {
	v      *Validator
	next   http.RoundTripper
	report func(error)
}

func (t *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/api/") {
		return t.next.RoundTrip(req)
	}
	var reqBody []byte
	out := req
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		out = req.Clone(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(b))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		out.ContentLength = int64(len(b))
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, err
	}
	if cerr := t.v.Check(out, reqBody, resp.StatusCode, resp.Header, respBody); cerr != nil && t.report != nil {
		t.report(fmt.Errorf("%s %s: %w", req.Method, req.URL.RequestURI(), cerr))
	}
	return resp, nil
}
