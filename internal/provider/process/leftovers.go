package process

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
)

// recordName is the file in a replica's directory naming its process.
const recordName = "replica.json"

// record identifies a replica's process across gofaas restarts.
type record struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // /proc/<pid>/stat field 22
	Namespace string `json:"namespace"`
	Function  string `json:"function"`
	Instance  string `json:"instance"`
}

func writeRecord(dir string, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordName+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordName))
}

func startTimeOf(procDir string, pid int) uint64 {
	s, err := readStat(procDir, pid)
	if err != nil {
		return 0
	}
	return s.startTime
}

// killLeftovers kills the processes recorded by replicas of a previous run
// that are still alive and removes their directories. p.mu is held.
func (p *Process) killLeftovers() {
	entries, err := os.ReadDir(p.dirs.replicas)
	if err != nil {
		p.log.Warn("reading replica dirs", "error", err)
		return
	}
	var stats []procStat
	for _, e := range entries {
		dir := filepath.Join(p.dirs.replicas, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, recordName))
		var rec record
		if err == nil && json.Unmarshal(data, &rec) == nil && rec.PID > 0 {
			if stats == nil {
				stats = allStats(p.procDir)
			}
			if n := killRecorded(stats, rec); n > 0 {
				p.log.Warn("killed processes left by a previous run", "function", rec.Function,
					"namespace", rec.Namespace, "instance", rec.Instance, "pid", rec.PID, "processes", n)
			}
		}
		removeAllQuiet(dir)
	}
	removeAllQuiet(p.dirs.secrets)
	if err := os.MkdirAll(p.dirs.secrets, 0o700); err != nil {
		p.log.Warn("recreating secrets dir", "error", err)
	}
}

// killRecorded sends SIGKILL to the recorded process if it is still the
// same process (same start time), and to every process of its group that
// started after it. It returns how many processes it signalled.
func killRecorded(stats []procStat, rec record) int {
	n := 0
	for _, s := range stats {
		if s.pid == rec.PID && s.startTime != rec.StartTime {
			return 0 // the pid now belongs to another process
		}
	}
	for _, s := range stats {
		if s.pgrp == rec.PID && s.startTime >= rec.StartTime {
			if err := syscall.Kill(s.pid, syscall.SIGKILL); err == nil {
				n++
			}
		}
	}
	return n
}
