// Package apispec holds Partli's OpenAPI 3.1 document (the HTTP contract of
// /api, which the README's walk-through and sections describe in prose) and
// a validator that checks recorded request/response exchanges against it.
//
// The server serves JSON() at GET /api/openapi.json; tests use NewValidator
// to check that what the server does matches what the document says.
package apispec

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var specYAML []byte

// YAML returns the OpenAPI document as written (YAML). The caller must not
// modify the returned slice.
func YAML() []byte { return specYAML }

var (
	loadOnce sync.Once
	loadDoc  *openapi3.T
	loadErr  error

	jsonOnce  sync.Once
	jsonBytes []byte
	jsonErr   error
)

// Load parses and validates the document. The result is computed once and
// shared: callers must treat it as read-only.
func Load() (*openapi3.T, error) {
	loadOnce.Do(func() {
		loadDoc, loadErr = parse()
	})
	return loadDoc, loadErr
}

// parse loads a fresh copy of the document and validates it.
func parse() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("apispec: load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apispec: invalid openapi.yaml: %w", err)
	}
	return doc, nil
}

// JSON returns the document marshalled as JSON, as served at
// GET /api/openapi.json. The result is computed once; the caller must not
// modify the returned slice.
func JSON() ([]byte, error) {
	jsonOnce.Do(func() {
		doc, err := Load()
		if err != nil {
			jsonErr = err
			return
		}
		jsonBytes, jsonErr = json.Marshal(doc)
		if jsonErr != nil {
			jsonErr = fmt.Errorf("apispec: marshal JSON: %w", jsonErr)
		}
	})
	return jsonBytes, jsonErr
}
