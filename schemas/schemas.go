// Package schemas embeds the shipped questionnaire definitions and the JSON
// Schema of their format, and loads definition folders: each file is checked
// against the JSON Schema and by the domain's strict decoding and semantic
// rules, and every problem is reported with its file and path.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaFile is the name of the JSON Schema of the definition format.
const SchemaFile = "questionnaire.schema.json"

//go:embed *.json
var shipped embed.FS

// Shipped returns the definitions shipped with the service, and the schema.
func Shipped() fs.FS { return shipped }

// Schema returns the JSON Schema of the definition format.
func Schema() []byte {
	b, err := shipped.ReadFile(SchemaFile)
	if err != nil {
		panic("schemas: " + SchemaFile + " is not embedded")
	}
	return b
}

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaFile, doc); err != nil {
		return nil, err
	}
	return c.Compile(SchemaFile)
})

// File is the outcome of loading one definition file.
type File struct {
	Name       string                    // the file's path in the folder
	Definition *questionnaire.Definition // nil when there are problems
	Problems   []questionnaire.Problem
	Report     []fhir.Finding // a FHIR Questionnaire's import report
}

// Check checks one definition file: against the JSON Schema, then by strict
// decoding and the semantic rules. Problems the JSON Schema finds at or under
// a path where the domain checks found one too are left out, so each mistake
// is reported once, in the domain's words.
func Check(name string, data []byte) File {
	if isFHIR(data) {
		return checkFHIR(name, data)
	}
	f := File{Name: name}
	def, err := questionnaire.Parse(data)
	var de *questionnaire.DefinitionError
	switch {
	case err == nil:
		f.Definition = def
	case errors.As(err, &de):
		f.Problems = de.Problems
	default:
		f.Problems = []questionnaire.Problem{{Code: questionnaire.ProblemSyntax, Message: err.Error()}}
	}
	if len(f.Problems) == 1 && f.Problems[0].Code == questionnaire.ProblemSyntax {
		return f // not JSON: nothing more to say
	}
	for _, p := range schemaProblems(data) {
		if !covered(p.Path, f.Problems) {
			f.Problems = append(f.Problems, p)
		}
	}
	if len(f.Problems) > 0 {
		f.Definition = nil
	}
	return f
}

// isFHIR reports whether a file is a FHIR resource (it names its
// resourceType) rather than a definition of the format.
func isFHIR(data []byte) bool {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	return json.Unmarshal(data, &r) == nil && r.ResourceType != ""
}

// checkFHIR imports a FHIR R4 Questionnaire (package questionnaire/fhir):
// what would refuse the form is a problem; the rest of its report is kept.
func checkFHIR(name string, data []byte) File {
	f := File{Name: name}
	res, err := fhir.Import(data, false)
	if res != nil {
		f.Report = res.Report
	}
	switch {
	case err != nil:
		f.Problems = []questionnaire.Problem{{Code: questionnaire.ProblemSchema, Message: err.Error()}}
	case res.Refused:
		for _, r := range res.Report {
			if r.Refuse {
				f.Problems = append(f.Problems, questionnaire.Problem{Path: "FHIR " + r.Path, Code: questionnaire.ProblemNotAllowed,
					Message: r.What + ": " + r.Why + " (eprom schemas import -lenient imports the rest)"})
			}
		}
	default:
		f.Definition = res.Definition
	}
	return f
}

// covered reports whether a problem was already found at path or below it.
func covered(path string, ps []questionnaire.Problem) bool {
	for _, p := range ps {
		if p.Path == path || path == "" ||
			strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"[") {
			return true
		}
	}
	return false
}

// english prints the JSON Schema library's messages.
var english = message.NewPrinter(language.English)

// schemaProblems validates data against the JSON Schema.
func schemaProblems(data []byte) []questionnaire.Problem {
	sch, err := compiled()
	if err != nil {
		panic("schemas: the embedded JSON Schema does not compile: " + err.Error())
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil // Parse has reported it
	}
	err = sch.Validate(doc)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var ps []questionnaire.Problem
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		p := questionnaire.Problem{
			Path:    pointerPath(e.InstanceLocation),
			Code:    questionnaire.ProblemSchema,
			Message: e.ErrorKind.LocalizedString(english),
		}
		if key := p.Path + "\x00" + p.Message; !seen[key] {
			seen[key] = true
			ps = append(ps, p)
		}
	}
	walk(ve)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// pointerPath turns JSON Pointer tokens into a path such as items[2].text.
func pointerPath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

// CheckDir checks every definition file (*.json but the schema) in a folder
// and its subfolders, in name order, and adds the good ones to cat (which
// may hold definitions already, such as the shipped ones; nil for none).
// Beyond the problems of each file, a definition that claims an id and
// version already in cat, or in another file of the folder, with other
// content is a conflict, reported on both files when both are here. It
// returns an error only when the folder cannot be read.
func CheckDir(fsys fs.FS, cat *questionnaire.Catalogue) ([]File, error) {
	var files []File
	err := fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || path.Ext(name) != ".json" || path.Base(name) == SchemaFile {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		files = append(files, Check(name, data))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cat == nil {
		cat = questionnaire.NewCatalogue()
	}
	conflict := func(f *File, msg string) {
		f.Problems = append(f.Problems, questionnaire.Problem{Code: questionnaire.ProblemConflict, Message: msg})
	}
	first := map[string]int{} // id@version → the file that brought it
	for i := range files {
		f := &files[i]
		d := f.Definition
		if d == nil {
			continue
		}
		key := d.ID + "@" + d.Version
		if err := cat.Add(d); err != nil {
			msg := questionnaire.ErrorMessage(err)
			if j, ok := first[key]; ok {
				msg = fmt.Sprintf("%s and %s both define %s %s, with different content; a version is immutable", files[j].Name, f.Name, d.ID, d.Version)
				conflict(&files[j], msg)
			}
			conflict(f, msg)
			continue
		}
		if _, ok := first[key]; !ok {
			first[key] = i
		}
	}
	for i := range files {
		if len(files[i].Problems) > 0 {
			files[i].Definition = nil
		}
	}
	return files, nil
}

// Load builds a catalogue from folders of definitions, the first usually
// Shipped(). It fails, listing every problem with its file and path, if any
// file has one.
func Load(folders ...fs.FS) (*questionnaire.Catalogue, error) {
	return LoadReporting(nil, folders...)
}

// LoadReporting is Load that also hands each line of a FHIR file's import
// report to report (the service logs them).
func LoadReporting(report func(file string, f fhir.Finding), folders ...fs.FS) (*questionnaire.Catalogue, error) {
	cat := questionnaire.NewCatalogue()
	var lines []string
	for _, fsys := range folders {
		files, err := CheckDir(fsys, cat)
		if err != nil {
			return nil, fmt.Errorf("schemas: %w", err)
		}
		for _, f := range files {
			if report != nil {
				for _, r := range f.Report {
					report(f.Name, r)
				}
			}
			for _, p := range f.Problems {
				lines = append(lines, f.Name+": "+p.String())
			}
		}
	}
	if len(lines) > 0 {
		return nil, fmt.Errorf("schemas: %d problems in questionnaire definitions:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	return cat, nil
}
