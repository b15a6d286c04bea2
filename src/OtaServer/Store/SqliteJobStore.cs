using Microsoft.Data.Sqlite;

namespace OtaServer.Store;

internal sealed class SqliteJobStore(SqliteDatabase db) : IJobStore
{
    private const string Columns = "id, kind, payload, dedup_key, status, attempts, created_at, started_at, finished_at, error";

    public Task<(JobRecord Job, bool Created)> EnqueueAsync(string id, string kind, string payloadJson, string? dedupKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        if (dedupKey is not null)
        {
            using var find = lease.Command($"SELECT {Columns} FROM jobs WHERE dedup_key = $key AND status IN ('Pending', 'Running')");
            find.Transaction = tx;
            using var r = find.With("$key", dedupKey).ExecuteReader();
            if (r.Read())
                return Task.FromResult((Read(r), false));
        }
        using (var insert = lease.Command("INSERT INTO jobs(id, kind, payload, dedup_key, status, created_at) VALUES($id, $kind, $payload, $key, 'Pending', $now)"))
        {
            insert.Transaction = tx;
            insert.With("$id", id).With("$kind", kind).With("$payload", payloadJson).With("$key", dedupKey).With("$now", now.ToDb()).ExecuteNonQuery();
        }
        tx.Commit();
        return Task.FromResult((new JobRecord(id, kind, payloadJson, dedupKey, JobStatus.Pending, 0, FromDb(now), null, null, null), true));
    }

    private static DateTimeOffset FromDb(DateTimeOffset t) => DateTimeOffset.FromUnixTimeMilliseconds(t.ToDb());

    private static JobRecord Read(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetStringOrNull(3), Enum.Parse<JobStatus>(r.GetString(4)),
        r.GetInt32(5), r.GetTime(6), r.GetTimeOrNull(7), r.GetTimeOrNull(8), r.GetStringOrNull(9));

    public Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT {Columns} FROM jobs WHERE id = $id");
        using var r = cmd.With("$id", id).ExecuteReader();
        return Task.FromResult(r.Read() ? Read(r) : null);
    }

    public Task<IReadOnlyList<JobRecord>> ListAsync(JobStatus? status, int limit, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT {Columns} FROM jobs WHERE ($status IS NULL OR status = $status) ORDER BY created_at DESC, id DESC LIMIT $limit");
        using var r = cmd.With("$status", status?.ToString()).With("$limit", limit).ExecuteReader();
        var list = new List<JobRecord>();
        while (r.Read())
            list.Add(Read(r));
        return Task.FromResult<IReadOnlyList<JobRecord>>(list);
    }

    // FIFO: jobs queued in the same millisecond keep their insertion order (rowid); the ids (UUIDv7)
    // are random within a millisecond, so ordering by id let a later job overtake an earlier one.
    public Task<JobRecord?> ClaimNextAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command(
            "UPDATE jobs SET status = 'Running', attempts = attempts + 1, started_at = $now " +
            "WHERE id = (SELECT id FROM jobs WHERE status = 'Pending' ORDER BY created_at, rowid LIMIT 1) " +
            $"RETURNING {Columns}");
        using var r = cmd.With("$now", now.ToDb()).ExecuteReader();
        return Task.FromResult(r.Read() ? Read(r) : null);
    }

    public Task<IReadOnlyList<string>> RequeueRunningAsync(CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE jobs SET status = 'Pending' WHERE status = 'Running' RETURNING id");
        using var r = cmd.ExecuteReader();
        var ids = new List<string>();
        while (r.Read())
            ids.Add(r.GetString(0));
        return Task.FromResult<IReadOnlyList<string>>(ids);
    }

    public Task<bool> FinishAsync(string id, JobStatus status, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE jobs SET status = $status, error = $error, finished_at = $now WHERE id = $id AND status = 'Running'");
        return Task.FromResult(cmd.With("$status", status.ToString()).With("$error", error).With("$now", now.ToDb()).With("$id", id).ExecuteNonQuery() > 0);
    }

    public Task<bool> CancelPendingAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE jobs SET status = 'Cancelled', error = 'Cancelled before it started', finished_at = $now WHERE id = $id AND status = 'Pending'");
        return Task.FromResult(cmd.With("$now", now.ToDb()).With("$id", id).ExecuteNonQuery() > 0);
    }

    public void AppendLog(string jobId, JobLogLine line)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("INSERT INTO job_log(job_id, seq, start_offset, end_offset, text) VALUES($id, $seq, $start, $end, $text)");
        cmd.With("$id", jobId).With("$seq", line.Seq).With("$start", line.StartOffset).With("$end", line.EndOffset).With("$text", line.Text).ExecuteNonQuery();
    }

    public JobLogLine? GetLastLogLine(string jobId)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT seq, start_offset, end_offset, text FROM job_log WHERE job_id = $id ORDER BY seq DESC LIMIT 1");
        using var r = cmd.With("$id", jobId).ExecuteReader();
        return r.Read() ? new JobLogLine(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3)) : null;
    }

    public Task<IReadOnlyList<JobLogLine>> ReadLogAfterSeqAsync(string jobId, long afterSeq, int max, CancellationToken cancellationToken) =>
        Task.FromResult(ReadLog("seq > $n", jobId, afterSeq, max));

    public Task<IReadOnlyList<JobLogLine>> ReadLogFromOffsetAsync(string jobId, long offset, int max, CancellationToken cancellationToken) =>
        Task.FromResult(ReadLog("end_offset > $n", jobId, offset, max));

    private IReadOnlyList<JobLogLine> ReadLog(string condition, string jobId, long n, int max)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT seq, start_offset, end_offset, text FROM job_log WHERE job_id = $id AND {condition} ORDER BY seq LIMIT $max");
        using var r = cmd.With("$id", jobId).With("$n", n).With("$max", max).ExecuteReader();
        var list = new List<JobLogLine>();
        while (r.Read())
            list.Add(new JobLogLine(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3)));
        return list;
    }
}
