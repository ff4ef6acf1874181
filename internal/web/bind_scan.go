package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply the value of a body's field may nest arrays
// and objects: a field's object or array is level 1. Deeper values amplify:
// 16 KiB of "[[[…" nested 8,000 levels deep rendered as a page of 128 MB
// when indented (measured 2026-12-03; a size, the same on any machine).
const MaxJSONDepth = 16

// A bodyProblem is text that no field of any JSON body may hold, found by
// scanBody before the body is decoded: encoding/json turns invalid UTF-8
// and lone surrogate escapes into U+FFFD, so that two different ids became
// one, and it accepts nesting up to 10,000 levels.
type bodyProblem struct {
	field string // the top-level field, or a dotted path into it (metadata.plan, items.0); "" for a field name of the body
	msg   string
}

// scanBody checks a JSON text in one pass and returns its first string
// holding invalid UTF-8 or a lone UTF-16 surrogate escape, or its first
// value nested more than MaxJSONDepth levels below its field. It returns
// nil when the text has neither, and when it is not well-formed JSON:
// json.Unmarshal words syntax errors. It keeps no recursion and no path
// deeper than the limit: a body of 64 KiB of "[" costs 64 KiB of memory.
func scanBody(data []byte) *bodyProblem {
	s := bodyScanner{data: data, path: make([]pathStep, 0, MaxJSONDepth+1)}
	if !s.scan() {
		return nil
	}
	return s.problem
}

// pathStep is where the scan is inside one open container: the field name
// (the raw bytes of its JSON string, decoded only to name a problem) or the
// index.
type pathStep struct {
	key   []byte
	index int
}

type bodyScanner struct {
	data []byte
	pos  int
	// open holds '{' or '[' for each container around pos; path the step
	// inside each of the outer MaxJSONDepth+1 of them.
	open    []byte
	path    []pathStep
	opened  bool // value opened a container that is not empty
	problem *bodyProblem
}

// scan reports whether the text is one well-formed JSON value, noting the
// first problem on the way.
func (s *bodyScanner) scan() bool {
	for {
		if !s.value() {
			return false
		}
		if s.opened {
			s.opened = false
			continue // the container's first value
		}
		// After a value: close containers, or go on to the next value.
		for {
			s.space()
			if len(s.open) == 0 {
				return s.pos == len(s.data)
			}
			c, inObject := s.peek(), s.open[len(s.open)-1] == '{'
			s.pos++
			if c == '}' && inObject || c == ']' && !inObject {
				s.close()
				continue
			}
			if c != ',' {
				return false
			}
			if inObject {
				if !s.key() {
					return false
				}
			} else if len(s.path) == len(s.open) {
				s.path[len(s.path)-1].index++
			}
			break
		}
	}
}

// value scans one value; a container is opened (s.opened) and left for
// scan to fill.
func (s *bodyScanner) value() bool {
	s.space()
	switch c := s.peek(); c {
	case '{', '[':
		s.pos++
		if len(s.open) > MaxJSONDepth {
			s.note(s.field(1), "must not nest arrays and objects more than "+strconv.Itoa(MaxJSONDepth)+" levels deep")
		}
		s.open = append(s.open, c)
		if len(s.path) < cap(s.path) {
			s.path = append(s.path, pathStep{})
		}
		s.space()
		switch {
		case c == '{' && s.peek() == '}', c == '[' && s.peek() == ']':
			s.pos++
			s.close()
			return true
		case c == '{' && !s.key():
			return false
		}
		s.opened = true
		return true
	case '"':
		return s.str(false)
	case 't':
		return s.word("true")
	case 'f':
		return s.word("false")
	case 'n':
		return s.word("null")
	}
	return s.number()
}

func (s *bodyScanner) close() {
	if len(s.path) == len(s.open) {
		s.path = s.path[:len(s.path)-1]
	}
	s.open = s.open[:len(s.open)-1]
}

// key scans `"name":` in an object and records the name in the path.
func (s *bodyScanner) key() bool {
	s.space()
	start := s.pos
	if s.peek() != '"' || !s.str(true) {
		return false
	}
	if len(s.path) == len(s.open) {
		s.path[len(s.path)-1].key = s.data[start:s.pos]
	}
	s.space()
	if s.peek() != ':' {
		return false
	}
	s.pos++
	return true
}

// note records the first problem.
func (s *bodyScanner) note(field, msg string) {
	if s.problem == nil {
		s.problem = &bodyProblem{field: field, msg: msg}
	}
}

// field names the value at the first n steps of the path.
func (s *bodyScanner) field(n int) string {
	var b strings.Builder
	for i, st := range s.path[:min(n, len(s.path))] {
		if i > 0 {
			b.WriteByte('.')
		}
		if st.key == nil {
			b.WriteString(strconv.Itoa(st.index))
			continue
		}
		var k string
		if json.Unmarshal(st.key, &k) != nil {
			k = string(st.key)
		}
		b.WriteString(k)
	}
	return b.String()
}

func (s *bodyScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *bodyScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *bodyScanner) word(w string) bool {
	if len(s.data)-s.pos < len(w) || string(s.data[s.pos:s.pos+len(w)]) != w {
		return false
	}
	s.pos += len(w)
	return true
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *bodyScanner) number() bool {
	digits := func() int {
		start := s.pos
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
		}
		return s.pos - start
	}
	if s.peek() == '-' {
		s.pos++
	}
	switch {
	case s.peek() == '0':
		s.pos++
	case digits() == 0:
		return false
	}
	if s.peek() == '.' {
		s.pos++
		if digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// str scans a string at s.pos. Text that is not Unicode is a problem of
// the value, or, in a field name, of the object holding it.
func (s *bodyScanner) str(isKey bool) bool {
	s.pos++ // "
	bad := func(msg string) {
		if isKey {
			s.note(s.field(len(s.path)-1), "must not have a field name that is not valid UTF-8 text")
			return
		}
		s.note(s.field(len(s.path)), msg)
	}
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.pos++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
				continue
			case 'u':
			default:
				return false
			}
			r, ok := s.hex4(s.pos + 1)
			if !ok {
				return false
			}
			s.pos += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				bad(loneSurrogate)
			case r >= 0xD800 && r <= 0xDBFF:
				// A pair is \uD8xx\uDCxx; anything else leaves the first alone
				// (and is scanned as it is).
				if low, ok := s.hex4(s.pos + 2); ok && s.peek() == '\\' && s.data[s.pos+1] == 'u' && low >= 0xDC00 && low <= 0xDFFF {
					s.pos += 6
				} else {
					bad(loneSurrogate)
				}
			}
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				bad("must be valid UTF-8 text")
			}
			s.pos += size
		}
	}
	return false
}

const loneSurrogate = `must not hold a lone UTF-16 surrogate escape (\ud800 to \udfff without its pair)`

// hex4 reads the four hex digits of a \u escape at i.
func (s *bodyScanner) hex4(i int) (rune, bool) {
	if i < 0 || i+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
