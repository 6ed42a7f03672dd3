package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/postwire/postwire/protocol"
	"github.com/postwire/postwire/session"
	"github.com/postwire/postwire/session/smtptest"
)

// Notifier is the mail side of a notification service: request handlers
// on many goroutines call Notify, and one Pool sends for all of them.
type Notifier struct {
	From string
	Pool *session.Pool
}

// Notify sends one notification and says what became of it.
func (n *Notifier) Notify(ctx context.Context, to, subject, text string) string {
	msg := "From: " + n.From + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + text + "\r\n"
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := n.Pool.Send(ctx, session.Envelope{From: n.From, To: []string{to}, Body: strings.NewReader(msg)})
	var refused *session.RecipientsRefusedError
	switch {
	case err == nil:
		return "sent"
	case errors.As(err, &refused):
		return fmt.Sprintf("refused (%d): do not retry", refused.Refused[0].Reply.Code)
	case errors.Is(err, session.ErrDeliveryUnknown):
		return "maybe delivered: check before sending again"
	}
	return "failed, retry later: " + err.Error()
}

func ExamplePool() {
	// The relay, for this example: it has no mailbox "gone", and closes
	// its first connection with 421 at the first MAIL, as Exim does after
	// 1,000 messages. The pool sends that message again on a new
	// connection.
	srv := smtptest.NewServer(smtptest.Config{
		RcptFunc: func(addr string) smtptest.Reply {
			if strings.HasPrefix(addr, "gone@") {
				return smtptest.Reply{Code: 550, Enhanced: protocol.EnhancedCode{Class: 5, Subject: 1, Detail: 1}, Text: "no such mailbox"}
			}
			return smtptest.Reply{}
		},
		Hook: func(ev smtptest.HookEvent) smtptest.Action {
			if ev.Verb == "MAIL" && ev.Conn.ID == 1 {
				return smtptest.Action{Raw: "421 4.7.0 too many messages, reconnect\r\n", Disconnect: true}
			}
			return smtptest.Action{}
		},
	})
	defer srv.Close()
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}

	pool, err := session.NewPool(session.PoolOptions{
		Dial: func(ctx context.Context) (*session.Client, error) {
			// A real service dials its relay here, then StartTLS and Login.
			return session.Dial(ctx, addr.String(), &session.Options{LocalName: "notify.example"})
		},
		MaxConns:           4,
		MaxMessagesPerConn: 500,
		IdleTimeout:        time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	n := &Notifier{From: "noreply@example.com", Pool: pool}

	ctx := context.Background()
	users := []string{"ann@example.net", "bob@example.net", "gone@example.net", "cy@example.net", "di@example.net"}
	outcome := make([]string, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() { // as concurrent request handlers would
			defer wg.Done()
			outcome[i] = n.Notify(ctx, u, "Your sign-in code", "Code: 123456")
		}()
	}
	wg.Wait()
	for i, u := range users {
		fmt.Printf("%s: %s\n", u, outcome[i])
	}

	// At shutdown: finish what is in flight, then QUIT every connection.
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Close(shutdown); err != nil {
		fmt.Println(err)
	}
	st := pool.Stats()
	fmt.Printf("sent %d, refused %d, unknown %d; stored by the relay: %d\n", st.Sent, st.Refused, st.Unknown, len(srv.Messages()))
	// Output:
	// ann@example.net: sent
	// bob@example.net: sent
	// gone@example.net: refused (550): do not retry
	// cy@example.net: sent
	// di@example.net: sent
	// sent 4, refused 1, unknown 0; stored by the relay: 4
}
