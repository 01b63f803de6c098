package questionnaire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDefinitionSize is the largest definition file Parse accepts.
const MaxDefinitionSize = 4 << 20

// Parse decodes a definition file strictly, checks it against the semantic
// rules of the format and computes its digest. On any problem it returns a
// *DefinitionError that lists every problem found, each with its path.
func Parse(data []byte) (*Definition, error) {
	if len(data) > MaxDefinitionSize {
		return nil, &DefinitionError{Problems: []Problem{{Code: ProblemSyntax,
			Message: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxDefinitionSize)}}}
	}
	tree, err := decodeTree(data)
	if err != nil {
		var te *treeError
		if errors.As(err, &te) {
			return nil, &DefinitionError{Problems: []Problem{{Path: te.path, Code: te.code, Message: te.msg}}}
		}
		return nil, &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: err.Error()}}}
	}
	var ps problems
	walkStrict(&ps, "", tree, reflect.TypeFor[Definition]())
	for _, p := range ps {
		if p.Code != ProblemUnknownField {
			// With a value of the wrong type the decoded definition would
			// be partial, and the semantic checks would only add noise.
			return nil, ps.err()
		}
	}
	canon, err := canonicalJSON(tree)
	if err != nil {
		return nil, &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: err.Error()}}}
	}
	// Decoding the canonical form, not the file, means what was vetted is
	// what is decoded, with whole numbers written as such (1e3 → 1000).
	var d Definition
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		// walkStrict has vetted every value's type, so this is a bug.
		return nil, &DefinitionError{Problems: []Problem{{Code: ProblemSyntax, Message: "internal: " + err.Error()}}}
	}
	// Unknown fields are reported along with the semantic problems, so that
	// one run shows every mistake.
	if err := d.check(); err != nil {
		ps = append(ps, err.(*DefinitionError).Problems...)
	}
	if len(ps) > 0 {
		return nil, ps.err()
	}
	d.digest = Digest(canon)
	return &d, nil
}

// maxDepth bounds the nesting of a JSON document.
const maxDepth = 64

// treeError is a problem found while decoding the tree, at a path.
type treeError struct{ path, code, msg string }

func (e *treeError) Error() string { return e.path + ": " + e.msg }

// decodeTree decodes one JSON value as I-JSON (RFC 7493), which RFC 8785
// requires: valid UTF-8, no lone surrogate escapes, no key twice in one
// object. Numbers are kept as json.Number; trailing data is refused.
func decodeTree(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("the file is not valid UTF-8")
	}
	if loneSurrogate(data) {
		return nil, errors.New(`a string has a lone surrogate escape such as \ud800`)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, "", 0)
	if err != nil {
		var te *treeError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// readValue reads one value token by token, so that a repeated key can be
// reported with its path.
func readValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &treeError{"", ProblemSyntax, fmt.Sprintf("values are nested more than %d deep", maxDepth)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := kt.(string) // the decoder allows nothing else here
			if _, dup := obj[key]; dup {
				return nil, &treeError{join(path, key), ProblemDuplicate, fmt.Sprintf("the key %q appears twice in one object", key)}
			}
			if obj[key], err = readValue(dec, join(path, key), depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, err
		}
		return obj, nil
	case json.Delim('['):
		arr := []any{}
		for i := 0; dec.More(); i++ {
			v, err := readValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, err
		}
		return arr, nil
	}
	return tok, nil // string, json.Number, bool or nil
}

// loneSurrogate reports whether a JSON string in data escapes half of a
// UTF-16 surrogate pair without the other half; the decoder would turn it
// into U+FFFD silently.
func loneSurrogate(data []byte) bool {
	inString, high := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		if c != '\\' {
			if high {
				return true
			}
			inString = c != '"'
			continue
		}
		if i+1 >= len(data) {
			return false
		}
		if data[i+1] != 'u' || i+5 >= len(data) {
			if high {
				return true
			}
			i++ // the escaped character
			continue
		}
		r, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 32)
		i += 5
		if err != nil {
			continue // the decoder reports it
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if high {
				return true
			}
			high = true
		case r >= 0xDC00 && r < 0xE000:
			if !high {
				return true
			}
			high = false
		default:
			if high {
				return true
			}
		}
	}
	return false
}

// jsonError adds the line and column to a JSON syntax error.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty file")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of file")
	}
	return err
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n') - 1
	return line, col
}

// walkStrict checks that the decoded JSON tree v has the shape of Go type t:
// no unknown fields, every value of the right JSON type. It reports each
// misfit with its path and does not descend into a value of the wrong type.
func walkStrict(ps *problems, path string, v any, t reflect.Type) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Interface:
		return // any JSON value
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			ps.add(path, ProblemType, "want an object, got %s", jsonKind(v))
			return
		}
		fields := jsonFields(t)
		for _, key := range sortedKeys(obj) {
			f, ok := fields[key]
			if !ok {
				ps.add(join(path, key), ProblemUnknownField, "unknown field")
				continue
			}
			walkStrict(ps, join(path, key), obj[key], f.Type)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			ps.add(path, ProblemType, "want an object, got %s", jsonKind(v))
			return
		}
		for _, key := range sortedKeys(obj) {
			walkStrict(ps, join(path, key), obj[key], t.Elem())
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			ps.add(path, ProblemType, "want an array, got %s", jsonKind(v))
			return
		}
		for i, el := range arr {
			walkStrict(ps, fmt.Sprintf("%s[%d]", path, i), el, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			ps.add(path, ProblemType, "want a string, got %s", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			ps.add(path, ProblemType, "want true or false, got %s", jsonKind(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			ps.add(path, ProblemType, "want a whole number, got %s", jsonKind(v))
		} else if f, err := strconv.ParseFloat(string(n), 64); err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			ps.add(path, ProblemType, "want a whole number, got %s", n)
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			ps.add(path, ProblemType, "want a number, got %s", jsonKind(v))
		} else if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			ps.add(path, ProblemType, "number %s is out of range", n)
		}
	default:
		panic("questionnaire: walkStrict: unsupported type " + t.String())
	}
}

// fieldCache holds jsonFields' answer per struct type.
var fieldCache sync.Map // reflect.Type → map[string]reflect.StructField

// jsonFields maps the JSON names of a struct's exported fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.StructField)
	}
	fields := make(map[string]reflect.StructField)
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	fieldCache.Store(t, fields)
	return fields
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// join appends a field name to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
