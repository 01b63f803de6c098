package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is returned by Open when the file is truncated or its pages
// are not what bbolt wrote: the service must not run on it.
var ErrDamaged = errors.New("bolt: the file is damaged")

// The on-disk layout of a bbolt meta page (go.etcd.io/bbolt/internal/common):
// a 16-byte page header, then magic, version, page size, flags (4 bytes
// each), the root bucket (16), the freelist page, the high-water page and
// the transaction id (8 each), and an FNV-64a checksum of what precedes it.
const (
	pageHeaderSize = 16
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
	metaSummed     = 56 // the bytes of the meta the checksum covers
)

type meta struct {
	pageSize uint32
	pgid     uint64 // pages in use: the file must hold them
	txid     uint64
}

// readMeta reads and validates the meta page at off.
func readMeta(f *os.File, off int64) (meta, error) {
	buf := make([]byte, pageHeaderSize+metaSummed+8)
	if _, err := f.ReadAt(buf, off); err != nil {
		return meta{}, fmt.Errorf("cannot read it: %w", err)
	}
	m := buf[pageHeaderSize:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != metaMagic || ne.Uint32(m[4:]) != metaVersion {
		return meta{}, errors.New("not a bbolt meta page")
	}
	h := fnv.New64a()
	h.Write(m[:metaSummed])
	if h.Sum64() != ne.Uint64(m[metaSummed:]) {
		return meta{}, errors.New("its checksum is wrong")
	}
	return meta{pageSize: ne.Uint32(m[8:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, nil
}

// checkFile looks at a bbolt file before it is opened: both meta pages
// valid, and the file as long as the pages they say are in use (a shorter
// file would fault when read through the memory map).
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new file
	} else if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return nil // bbolt initialises an empty file
	}
	first, err := readMeta(f, 0)
	if err != nil {
		return fmt.Errorf("%w: %s: meta page 0: %v", ErrDamaged, path, err)
	}
	second, err := readMeta(f, int64(first.pageSize))
	if err != nil {
		return fmt.Errorf("%w: %s: meta page 1: %v", ErrDamaged, path, err)
	}
	m := first
	if second.txid > first.txid {
		m = second
	}
	if need := int64(m.pgid) * int64(m.pageSize); st.Size() < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, its pages need %d", ErrDamaged, path, st.Size(), need)
	}
	return nil
}

// walk reads every bucket, key and value of the file, and then runs
// bbolt's consistency check (pages reachable twice, or both reachable and
// free). A page that is not what bbolt wrote makes bbolt panic as it
// reads it; walk turns that, and a fault of the memory map, into an error.
func walk(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		// Every byte of every key and value is read here, where a fault
		// is an error, so that the check below (in a goroutine of its
		// own, where it would end the process) reads only what has been.
		var sum byte
		var bucket func(b *bolt.Bucket) error
		bucket = func(b *bolt.Bucket) error {
			var prev []byte
			return b.ForEach(func(k, v []byte) error {
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					return fmt.Errorf("keys out of order in a bucket")
				}
				prev = k
				for _, c := range k {
					sum ^= c
				}
				for _, c := range v {
					sum ^= c
				}
				if v == nil {
					if nested := b.Bucket(k); nested != nil {
						return bucket(nested)
					}
				}
				return nil
			})
		}
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return bucket(b) }); err != nil {
			return err
		}
		readSum = sum
		var first error
		for err := range tx.Check() { // read to its end: the check runs in the transaction
			if first == nil {
				first = err
			}
		}
		return first
	})
}

// readSum keeps walk's reading of every byte from being optimised away.
var readSum byte

// openChecked opens a bbolt file that checkFile and walk find sound.
func openChecked(path string, opts *bolt.Options) (*bolt.DB, error) {
	if err := checkFile(path); err != nil {
		// Another process writing the file as it was read could explain
		// it: then its lock is held. Otherwise look again, holding it.
		db, oerr := openRecovered(path, opts)
		if errors.Is(oerr, bolterrors.ErrTimeout) {
			return nil, oerr
		}
		if oerr == nil {
			again := checkFile(path)
			db.Close()
			if again == nil {
				return openChecked(path, opts)
			}
		}
		return nil, err
	}
	db, err := openRecovered(path, opts)
	if err != nil {
		return nil, err
	}
	if err := walk(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	return db, nil
}

// openRecovered is bolt.Open, with a panic or a fault of a page that is
// not what bbolt wrote (the freelist, read as it opens) as ErrDamaged.
func openRecovered(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	// The file bbolt opens, to close it (and so give up its lock) when
	// bbolt panics before it can.
	var file *os.File
	o := *opts
	o.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if file != nil {
				file.Close()
			}
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrDamaged, path, p)
		}
	}()
	return bolt.Open(path, 0o600, &o)
}
