package bolt

import "eprom/store"

// MigrateOnlyForTest migrates a file and stops before its compaction, as a
// crash right after the migration's commit would.
func MigrateOnlyForTest(path string, secrets *store.Secrets) error {
	s, err := open(path, secrets)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.migrate()
	return err
}
