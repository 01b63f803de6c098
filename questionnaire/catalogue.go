package questionnaire

import (
	"cmp"
	"slices"
	"strings"
)

// Catalogue holds questionnaire definitions by id and version. It is built
// at start-up and read-only afterwards, so it needs no lock.
type Catalogue struct {
	byID map[string][]*Definition // each list sorted by version, newest first
}

// NewCatalogue returns an empty catalogue.
func NewCatalogue() *Catalogue {
	return &Catalogue{byID: make(map[string][]*Definition)}
}

// Add adds a definition. Adding the same id and version again with the same
// digest does nothing; with another digest it returns ECONFLICT, because a
// version is immutable.
func (c *Catalogue) Add(d *Definition) error {
	list := c.byID[d.ID]
	for _, have := range list {
		if have.Version != d.Version {
			continue
		}
		if have.digest == d.digest {
			return nil
		}
		return Errorf(ECONFLICT, "questionnaire %s version %s is defined twice with different content (%s and %s)",
			d.ID, d.Version, have.digest, d.digest)
	}
	list = append(list, d)
	slices.SortFunc(list, func(a, b *Definition) int { return compareSemver(b.Version, a.Version) })
	c.byID[d.ID] = list
	return nil
}

// Get returns the definition with the given id and version; an empty
// version means the latest. Returns ENOTFOUND when there is none.
func (c *Catalogue) Get(id, version string) (*Definition, error) {
	list := c.byID[id]
	if len(list) == 0 {
		return nil, Errorf(ENOTFOUND, "no questionnaire %q", id)
	}
	if version == "" {
		return latest(list), nil
	}
	for _, d := range list {
		if d.Version == version {
			return d, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "questionnaire %q has no version %q", id, version)
}

// latest returns the newest release, or the newest pre-release when there is
// no release.
func latest(list []*Definition) *Definition {
	for _, d := range list {
		if !strings.Contains(d.Version, "-") {
			return d
		}
	}
	return list[0]
}

// List returns every definition, by id and then newest version first.
func (c *Catalogue) List() []*Definition {
	var out []*Definition
	for _, id := range sortedKeys(c.byID) {
		out = append(out, c.byID[id]...)
	}
	return out
}

// Len returns the number of definitions.
func (c *Catalogue) Len() int {
	n := 0
	for _, list := range c.byID {
		n += len(list)
	}
	return n
}

// compareSemver orders semantic versions by precedence (semver.org §11).
// Both must match the version pattern.
func compareSemver(a, b string) int {
	coreA, preA, _ := strings.Cut(a, "-")
	coreB, preB, _ := strings.Cut(b, "-")
	pa, pb := strings.Split(coreA, "."), strings.Split(coreB, ".")
	for i := 0; i < 3 && i < len(pa) && i < len(pb); i++ {
		if c := compareNumeric(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	switch {
	case preA == preB:
		return 0
	case preA == "":
		return 1 // a release outranks its pre-releases
	case preB == "":
		return -1
	}
	ia, ib := strings.Split(preA, "."), strings.Split(preB, ".")
	for i := 0; i < len(ia) && i < len(ib); i++ {
		numA, numB := isDigits(ia[i]), isDigits(ib[i])
		var c int
		switch {
		case numA && numB:
			c = compareNumeric(ia[i], ib[i])
		case numA:
			c = -1 // numeric identifiers rank below alphanumeric ones
		case numB:
			c = 1
		default:
			c = strings.Compare(ia[i], ib[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ia), len(ib))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// compareNumeric compares two decimal digit strings without leading zeros,
// of any length.
func compareNumeric(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
