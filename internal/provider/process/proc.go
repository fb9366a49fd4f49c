package process

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is what the back-end reads from /proc/<pid>/stat.
type procStat struct {
	pid       int
	ppid      int
	pgrp      int
	ticks     uint64 // utime + stime, in clock ticks
	startTime uint64 // clock ticks after boot
	rssPages  int64
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// parseStat parses the content of /proc/<pid>/stat.
func parseStat(data []byte) (procStat, error) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open <= 0 || end < open {
		return procStat{}, fmt.Errorf("malformed stat")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat pid: %w", err)
	}
	// f[0] is field 3 (state) of proc(5).
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("stat has %d fields", len(f)+2)
	}
	num := func(i int) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = strconv.ParseUint(f[i-3], 10, 64)
		return v
	}
	s := procStat{pid: pid, ppid: int(num(4)), pgrp: int(num(5))}
	s.ticks = num(14) + num(15)
	s.startTime = num(22)
	rss, rerr := strconv.ParseInt(f[24-3], 10, 64)
	if err != nil || rerr != nil {
		return procStat{}, fmt.Errorf("malformed stat numbers")
	}
	s.rssPages = rss
	return s, nil
}

// readStat reads /proc/<pid>/stat under procDir.
func readStat(procDir string, pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// allStats reads the stat of every process under procDir; processes that
// vanish meanwhile are skipped.
func allStats(procDir string) []procStat {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readStat(procDir, pid); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// groupUsage sums CPU ticks and resident pages of the processes in the
// given process groups (each replica leads its own group).
func groupUsage(stats []procStat, groups map[int]bool) (ticks uint64, rssPages int64) {
	for _, s := range stats {
		if groups[s.pgrp] {
			ticks += s.ticks
			rssPages += s.rssPages
		}
	}
	return ticks, rssPages
}
