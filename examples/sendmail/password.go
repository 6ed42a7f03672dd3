package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// errNoTerminal: a password is needed and there is no terminal to ask on.
var errNoTerminal = errors.New("no terminal to ask for the password on: set POSTWIRE_PASSWORD")

// ttyPassword asks for a password on the controlling terminal, /dev/tty
// (standard input carries the message). Echo is turned off with stty(1),
// which keeps the program free of dependencies beyond the standard library;
// where stty is missing, the prompt says that the typing will show.
// Cancelling ctx (Ctrl-C) restores the echo and returns ctx's error.
func ttyPassword(ctx context.Context, prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errNoTerminal
	}
	defer tty.Close()

	stty := func(arg string) error {
		cmd := exec.CommandContext(context.WithoutCancel(ctx), "stty", arg)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, nil
		return cmd.Run()
	}
	if stty("-echo") != nil {
		prompt = "(typing will show) " + prompt
	} else {
		defer func() {
			stty("echo")
			fmt.Fprintln(tty) // the newline the user typed was not echoed
		}()
	}
	fmt.Fprint(tty, prompt)

	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(tty).ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && r.line == "" {
			return "", fmt.Errorf("reading the password: %w", r.err)
		}
		return strings.TrimRight(r.line, "\r\n"), nil
	case <-ctx.Done():
		// The deferred Close ends the read; the echo is restored first.
		return "", ctx.Err()
	}
}
