package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"eprom/questionnaire"
	"eprom/store"
)

// A code's link begins a pending session: the order is opened by the first
// page a person sees, not by a link preview that followed the link (issue
// 15). Nothing is stored for it: the session cookie holds the pending
// session itself, sealed under the browser key (pendingPrefix and the
// sealed bytes), and the first page view stores the session as it opens the
// order, in one write (issue 16: a journey's link cost a durable commit of
// its own before). A preview that keeps the cookie gets a page drawn from
// it, and nothing changes. Such a cookie is begun only for an order not yet
// opened, and counts only while it is not: once the first page view opened
// it, the cookie names the stored session (the same cookie sent again finds
// that), and after that session ended (save and continue later) a copy of
// the cookie is no session. Without the key (Config.Links unset), or for an
// order opened already, a pending session is stored, as before.

// pendingPrefix begins the value of a session cookie that holds a pending
// session rather than the id of a stored one.
const pendingPrefix = "p."

// pendingAAD binds the sealed bytes to their use.
const pendingAAD = "pending-session"

// sealedSession is what a pending session's cookie holds.
type sealedSession struct {
	ID        string    `json:"id"`
	OrderID   string    `json:"order"`
	CodeGen   int       `json:"codeGen"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"createdAt"`
}

// pendingCookie is the cookie value of a pending session.
func (s *Server) pendingCookie(sess *store.Session) string {
	plain, _ := json.Marshal(sealedSession{ID: sess.ID, OrderID: sess.OrderID, CodeGen: sess.CodeGen, CSRF: sess.CSRF, CreatedAt: sess.CreatedAt})
	return pendingPrefix + base64.RawURLEncoding.EncodeToString(s.cfg.Links.SealBrowser(pendingAAD, plain))
}

// session returns the session a session cookie names: a stored one, or the
// pending one the cookie holds. The pending session of a cookie that was
// opened since (the same cookie sent twice) is the stored one. Returns
// ENOTFOUND for no session, one idle too long, or a cookie not sealed here.
func (s *Server) session(ctx context.Context, cookie string, now time.Time) (*store.Session, error) {
	sealed, pending := strings.CutPrefix(cookie, pendingPrefix)
	if !pending || s.cfg.Links == nil {
		return s.cfg.Patients.Session(ctx, cookie, now)
	}
	gone := questionnaire.Errorf(questionnaire.ENOTFOUND, "no session, or it has been idle too long")
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, gone
	}
	plain, err := s.cfg.Links.OpenBrowser(pendingAAD, raw)
	if err != nil {
		return nil, gone
	}
	var p sealedSession
	if json.Unmarshal(plain, &p) != nil || p.ID == "" || now.Sub(p.CreatedAt) >= store.IdleTimeout {
		return nil, gone
	}
	stored, err := s.cfg.Patients.Session(ctx, p.ID, now)
	if questionnaire.ErrorCode(err) != questionnaire.ENOTFOUND {
		return stored, err
	}
	return &store.Session{ID: p.ID, OrderID: p.OrderID, CodeGen: p.CodeGen, CSRF: p.CSRF, CreatedAt: p.CreatedAt, SeenAt: now, Pending: true}, nil
}
