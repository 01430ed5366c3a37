-- One command starts: its runs row, `running` until the command ends it.
insert into runs (run_id, command, config, code_version, inputs, started_at, status, pid, host, lease)
values ($run_id, $command, $config, $code_version, $inputs, current_timestamp, 'running', $pid, $host, $lease)
