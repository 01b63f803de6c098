package questionnaire

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Application error codes. Adapters translate their own errors into these at
// the boundary; the web layer maps them to HTTP statuses.
const (
	ECONFLICT       = "conflict"          // the request conflicts with the state (409)
	EINTERNAL       = "internal"          // anything unexpected (500); never shown
	EINVALID        = "invalid"           // the input is malformed (400)
	ENOTFOUND       = "not_found"         // the thing does not exist (404)
	EUNPROCESSABLE  = "unprocessable"     // well-formed but fails validation (422)
	EUNAUTHORIZED   = "unauthorized"      // no valid credentials (401)
	EFORBIDDEN      = "forbidden"         // valid credentials, but not for this (403)
	ELEASE          = "lease_not_held"    // an ack without the current lease (409)
	ETOOLARGE       = "too_large"         // the body is too large (413)
	ETOOMANYREQUEST = "too_many_requests" // rate limited (429)
	EUNAVAILABLE    = "unavailable"       // a dependency is down (503)
)

// Error is an application error: a code from the list above and a message
// that is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, ""
// for nil and "Internal error." for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// Problem codes of definition errors.
const (
	ProblemSyntax       = "syntax"        // not JSON
	ProblemUnknownField = "unknown_field" // a field the format does not have
	ProblemType         = "type"          // a value of the wrong JSON type
	ProblemRequired     = "required"      // a required field is missing or empty
	ProblemPattern      = "pattern"       // a value of the wrong form or not in its enumeration
	ProblemDuplicate    = "duplicate"     // a linkId, option value, score id or band code used twice
	ProblemReference    = "reference"     // enableWhen or a score names an item that does not fit
	ProblemNotAllowed   = "not_allowed"   // a field the item's type does not take
	ProblemRange        = "range"         // bounds that contradict each other, or bands that overlap
	ProblemLanguage     = "language"      // a text missing in a declared language, or in an undeclared one
	ProblemConflict     = "conflict"      // two different files claim one id and version
	ProblemSchema       = "schema"        // rejected by the format's JSON Schema
)

// Problem is one error in a definition, at a path such as
// `items[2].items[0].enableWhen[0].question`.
type Problem struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// DefinitionError lists every problem found in one definition file.
type DefinitionError struct {
	Problems []Problem
}

// Error implements the error interface: one problem a line.
func (e *DefinitionError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects definition problems during decoding and checking.
type problems []Problem

func (ps *problems) add(path, code, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &DefinitionError{Problems: ps}
}

// Answer error codes. Each is also the key of a localized message in
// locales/; Params holds the values the message shows.
const (
	AnswerRequired  = "answer.required"   // a required question is not answered
	AnswerOption    = "answer.option"     // not one of the item's options
	AnswerExclusive = "answer.exclusive"  // an exclusive option ticked with another
	AnswerOtherBoth = "answer.other_both" // an option chosen and an own answer written, where one answer is taken
	AnswerSingle    = "answer.single"     // more than one value for a single-valued item
	AnswerBoolean   = "answer.boolean"    // not yes or no
	AnswerInteger   = "answer.integer"    // not a whole number
	AnswerDecimal   = "answer.decimal"    // not a number
	AnswerDate      = "answer.date"       // not a valid date
	AnswerMin       = "answer.min"        // below the minimum; Params["min"]
	AnswerMax       = "answer.max"        // above the maximum; Params["max"]
	AnswerDateMin   = "answer.date_min"   // before the earliest date; Params["min"]
	AnswerDateMax   = "answer.date_max"   // after the latest date; Params["max"]
	AnswerMaxLength = "answer.maxlength"  // too long; Params["max"]
	AnswerMinLength = "answer.minlength"  // too short; Params["min"]
	AnswerPattern   = "answer.pattern"    // not of the form the item's pattern asks for (Item.PatternHint)
	AnswerText      = "answer.text"       // not valid text (bad encoding or control characters)
	AnswerType      = "answer.type"       // a JSON value of the wrong type for the item
	AnswerUnknown   = "answer.unknown"    // no question has this linkId
	AnswerDuplicate = "answer.duplicate"  // the linkId is answered twice in one JSON document
	AnswerMalformed = "answer.json"       // the JSON document is malformed
)

// AnswerError is one problem with the answers: the item's linkId (empty when
// the problem is with the whole document) and a message key, never prose.
type AnswerError struct {
	LinkID string            `json:"linkId"`
	Code   string            `json:"code"`
	Params map[string]string `json:"params,omitempty"`
}

// AnswerErrors lists the problems with a set of answers, in document order.
type AnswerErrors []AnswerError

// Error implements the error interface, for logs and tests.
func (es AnswerErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.LinkID + ": " + e.Code
		if len(e.Params) > 0 {
			keys := sortedKeys(e.Params)
			kv := make([]string, len(keys))
			for j, k := range keys {
				kv[j] = k + "=" + e.Params[k]
			}
			parts[i] += " (" + strings.Join(kv, ", ") + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// For returns the errors for one linkId.
func (es AnswerErrors) For(linkID string) AnswerErrors {
	var out AnswerErrors
	for _, e := range es {
		if e.LinkID == linkID {
			out = append(out, e)
		}
	}
	return out
}

func (es *AnswerErrors) add(linkID, code string, params ...string) {
	e := AnswerError{LinkID: linkID, Code: code}
	if len(params) > 0 {
		e.Params = make(map[string]string, len(params)/2)
		for i := 0; i+1 < len(params); i += 2 {
			e.Params[params[i]] = params[i+1]
		}
	}
	*es = append(*es, e)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
