package main

import (
	"os"
	"syscall"
	"testing"
)

// TestMain runs the tests as the service's user is meant to run: with a
// umask of 077, so that the folders testing.T.TempDir makes (and the
// files the tests write) are the service's alone, as `eprom serve`
// requires of its data folder, secret and keys. A test of a loose file
// sets its mode with os.Chmod.
func TestMain(m *testing.M) {
	syscall.Umask(0o077)
	os.Exit(m.Run())
}
