package signing

import "time"

// ReloadNow looks at the file now, as the next signing after reloadEvery
// would.
func (k *Keyring) ReloadNow() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.checked = time.Time{}
	return k.maybeReload(time.Now())
}
