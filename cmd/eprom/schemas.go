package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"eprom/questionnaire"
	"eprom/questionnaire/fhir"
	"eprom/schemas"
)

const schemasUsage = "usage: eprom schemas check [DIR]\n       eprom schemas import [-out DIR] [-lenient] FILE...\n       eprom schemas export -fhir [-schemas DIR] [-out FILE] ID[@VERSION]\n"

// runSchemas runs `eprom schemas check [DIR]`: one line per definition, then
// every problem with its file and path; exit status 1 on any problem. And
// `eprom schemas import`: see runImport.
func runSchemas(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "import" {
		return runImport(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "export" {
		return runExport(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "check" || len(args) > 2 {
		fmt.Fprint(stderr, schemasUsage)
		return 2
	}
	var fsys fs.FS = schemas.Shipped()
	where := "shipped definitions"
	var cat *questionnaire.Catalogue
	if len(args) == 2 {
		dir := args[1]
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			fmt.Fprintf(stderr, "eprom: schemas check: %s is not a folder\n", dir)
			return 2
		}
		fsys, where = os.DirFS(dir), dir
		// A folder is loaded beside the shipped set (EPROM_SCHEMAS), so it
		// must not contradict it.
		var err error
		if cat, err = schemas.Load(schemas.Shipped()); err != nil {
			fmt.Fprintf(stderr, "eprom: schemas check: the shipped definitions: %v\n", err)
			return 1
		}
	}
	files, err := schemas.CheckDir(fsys, cat)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: schemas check: %v\n", err)
		return 1
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "eprom: schemas check: no definition files (*.json) in %s\n", where)
		return 1
	}
	bad := 0
	for _, f := range files {
		if d := f.Definition; d != nil {
			fmt.Fprintf(stdout, "ok    %-20s %-8s languages=%s items=%d pages=%d scores=%d %s\n",
				d.ID, d.Version, strings.Join(d.Languages, ","), d.ItemCount(), len(d.Pages()), len(d.Scores), d.Digest())
			for _, r := range f.Report {
				fmt.Fprintf(stdout, "      %s: FHIR import: %s\n", f.Name, r)
			}
			continue
		}
		bad++
		fmt.Fprintf(stdout, "FAIL  %s: %s\n", f.Name, plural(len(f.Problems), "problem"))
		for _, p := range f.Problems {
			fmt.Fprintf(stdout, "      %s: %s\n", f.Name, p)
		}
	}
	fmt.Fprintf(stdout, "%d definitions checked in %s, %d with problems\n", len(files), where, bad)
	if bad > 0 {
		return 1
	}
	return 0
}

// plural formats a count with its noun: "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// runImport runs `eprom schemas import [-out DIR] [-lenient] FILE...`: each
// FHIR R4 Questionnaire is mapped to a definition of this format, with one
// line per file (id, version, items, pages, scores, report count) and its
// report lines; with -out, {id}-{version}.json is written into DIR. Exit
// status 1 when any file was refused or could not be read.
func runImport(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("eprom schemas import", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("out", "", "write each imported definition as {id}-{version}.json into this folder")
	lenient := flags.Bool("lenient", false, "import what can be imported of a form that would be refused")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() == 0 {
		fmt.Fprint(stderr, schemasUsage)
		return 2
	}
	if *out != "" {
		if st, err := os.Stat(*out); err != nil || !st.IsDir() {
			fmt.Fprintf(stderr, "eprom: schemas import: -out %s is not a folder\n", *out)
			return 2
		}
	}
	failed := 0
	seen := map[string]string{} // id@version → the file it came from
	for _, file := range flags.Args() {
		if !importFile(file, *out, *lenient, seen, stdout) {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %s refused\n", failed, plural(flags.NArg(), "file"))
		return 1
	}
	return 0
}

// importFile imports one file and reports it; false when it was refused.
func importFile(file, out string, lenient bool, seen map[string]string, stdout io.Writer) bool {
	data, err := os.ReadFile(file)
	if err == nil && len(data) > questionnaire.MaxDefinitionSize {
		err = fmt.Errorf("%d bytes, more than the %d allowed", len(data), questionnaire.MaxDefinitionSize)
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL  %s: %v\n", file, err)
		return false
	}
	res, err := fhir.Import(data, lenient)
	if res == nil || res.Definition == nil {
		fmt.Fprintf(stdout, "FAIL  %s: %v\n", file, err)
		return false
	}
	d := res.Definition
	status := "ok   "
	if res.Refused {
		status = "REFUSED"
	}
	fmt.Fprintf(stdout, "%s %s: %s %s items=%d pages=%d scores=%d report=%d\n",
		status, file, d.ID, d.Version, d.ItemCount(), len(d.Pages()), len(d.Scores), len(res.Report))
	for _, f := range res.Report {
		fmt.Fprintf(stdout, "      %s\n", f)
	}
	if res.Refused {
		return false
	}
	// A version is immutable: two forms cannot be one id and version.
	key := d.ID + "@" + d.Version
	if first, dup := seen[key]; dup {
		fmt.Fprintf(stdout, "FAIL  %s: %s is also what %s imports to; give one of them its own id or version\n", file, key, first)
		return false
	}
	seen[key] = file
	if out != "" {
		name := filepath.Join(out, d.ID+"-"+d.Version+".json")
		if err := os.WriteFile(name, append(res.JSON, '\n'), 0o644); err != nil {
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", file, err)
			return false
		}
		fmt.Fprintf(stdout, "      wrote %s\n", name)
	}
	return true
}

// runExport runs `eprom schemas export -fhir [-schemas DIR] [-out FILE]
// ID[@VERSION]`: the definition (the latest version unless one is given;
// the shipped ones, and those in DIR or EPROM_SCHEMAS) as an R4
// Questionnaire, on stdout or into FILE.
func runExport(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("eprom schemas export", flag.ContinueOnError)
	flags.SetOutput(stderr)
	asFHIR := flags.Bool("fhir", false, "write an R4 Questionnaire (the only format there is to export to)")
	dir := flags.String("schemas", os.Getenv("EPROM_SCHEMAS"), "a folder of definitions beside the shipped ones (default $EPROM_SCHEMAS)")
	out := flags.String("out", "", "write into this file instead of stdout")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if !*asFHIR || flags.NArg() != 1 {
		fmt.Fprint(stderr, schemasUsage)
		return 2
	}
	folders := []fs.FS{schemas.Shipped()}
	if *dir != "" {
		folders = append(folders, os.DirFS(*dir))
	}
	cat, err := schemas.Load(folders...)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: schemas export: %v\n", err)
		return 1
	}
	id, version, _ := strings.Cut(flags.Arg(0), "@")
	d, err := cat.Get(id, version)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: schemas export: %v\n", err)
		return 1
	}
	data, err := fhir.Export(d)
	if err != nil {
		fmt.Fprintf(stderr, "eprom: schemas export: %v\n", err)
		return 1
	}
	data = append(data, '\n')
	if *out == "" {
		_, err = stdout.Write(data)
	} else {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "eprom: schemas export: %v\n", err)
		return 1
	}
	return 0
}
