package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"eprom/questionnaire"
	"eprom/schemas"
)

// runSchemas runs `eprom schemas check [DIR]`: one line per definition, then
// every problem with its file and path; exit status 1 on any problem.
func runSchemas(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" || len(args) > 2 {
		fmt.Fprint(stderr, "usage: eprom schemas check [DIR]\n")
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
