using Npgsql;
using OtaServer.Jobs;

namespace OtaServer.Store;

/// <summary>
/// <see cref="IJobStore"/> on PostgreSQL. Duplicate enqueues are refused by the partial unique index on active dedup keys
/// (<c>INSERT ... ON CONFLICT DO NOTHING</c>, then the winner is read back); claims take the oldest Pending job with
/// <c>FOR UPDATE SKIP LOCKED</c>, so concurrent workers never get the same job and never wait on each other.
/// </summary>
internal sealed class PostgresJobStore(PostgresDatabase db) : IJobStore
{
    private const string Columns = "id, kind, payload, dedup_key, status, attempts, created_at, started_at, finished_at, error";
    private const string Active = "status IN ('Pending', 'Running')";

    public async Task<(JobRecord Job, bool Created)> EnqueueAsync(string id, string kind, string payloadJson, string? dedupKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var created = (new JobRecord(id, kind, payloadJson, dedupKey, JobStatus.Pending, 0, DateTimeOffset.FromUnixTimeMilliseconds(now.ToDb()), null, null, null), true);
        if (dedupKey is null)
        {
            await using var insert = Insert(c, id, kind, payloadJson, dedupKey, now, "");
            await insert.ExecuteNonQueryAsync(cancellationToken);
            return created;
        }
        // The active job may finish between our refused insert and the read; then there is room again, so try once more.
        for (var attempt = 0; ; attempt++)
        {
            await using (var insert = Insert(c, id, kind, payloadJson, dedupKey, now, $" ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND {Active} DO NOTHING"))
            {
                if (await insert.ExecuteNonQueryAsync(cancellationToken) > 0)
                    return created;
            }

            await using var find = c.Command($"SELECT {Columns} FROM jobs WHERE dedup_key = @key AND {Active}").With("@key", dedupKey);
            await using var r = await find.ExecuteReaderAsync(cancellationToken);
            if (await r.ReadAsync(cancellationToken))
                return (Read(r), false);
            if (attempt >= 10)
                throw new InvalidOperationException($"Could not enqueue the job with dedup key '{dedupKey}': the active job with that key kept changing. Try again.");
        }
    }

    private static NpgsqlCommand Insert(NpgsqlConnection c, string id, string kind, string payloadJson, string? dedupKey, DateTimeOffset now, string onConflict) =>
        c.Command("INSERT INTO jobs(id, kind, payload, dedup_key, status, created_at) VALUES(@id, @kind, @payload, @key, 'Pending', @now)" + onConflict)
            .With("@id", id).With("@kind", kind).With("@payload", payloadJson).With("@key", dedupKey).With("@now", now);

    private static JobRecord Read(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetStringOrNull(3), Enum.Parse<JobStatus>(r.GetString(4)),
        r.GetInt(5), r.GetTime(6), r.GetTimeOrNull(7), r.GetTimeOrNull(8), r.GetStringOrNull(9));

    public async Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT {Columns} FROM jobs WHERE id = @id").With("@id", id);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? Read(r) : null;
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(JobStatus? status, int limit, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT {Columns} FROM jobs WHERE (@status IS NULL OR status = @status) ORDER BY created_at DESC, id DESC LIMIT @limit")
            .With("@status", status?.ToString()).With("@limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<JobRecord>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(Read(r));
        return list;
    }

    // FIFO by creation time, then insertion order (seq): UUIDv7 ids are random within a millisecond.
    public async Task<JobRecord?> ClaimNextAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command(
            "UPDATE jobs SET status = 'Running', attempts = attempts + 1, started_at = @now " +
            "WHERE id = (SELECT id FROM jobs WHERE status = 'Pending' ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED) " +
            $"RETURNING {Columns}").With("@now", now);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? Read(r) : null;
    }

    public async Task<IReadOnlyList<string>> RequeueRunningAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE jobs SET status = 'Pending' WHERE status = 'Running' RETURNING id");
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var ids = new List<string>();
        while (await r.ReadAsync(cancellationToken))
            ids.Add(r.GetString(0));
        return ids;
    }

    public async Task<bool> FinishAsync(string id, JobStatus status, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE jobs SET status = @status, error = @error, finished_at = @now WHERE id = @id AND status = 'Running'")
            .With("@status", status.ToString()).With("@error", error).With("@now", now).With("@id", id);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> CancelPendingAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE jobs SET status = 'Cancelled', error = 'Cancelled before it started', finished_at = @now WHERE id = @id AND status = 'Pending'")
            .With("@now", now).With("@id", id);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public void AppendLog(string jobId, JobLogLine line)
    {
        using var c = db.Open();
        using var cmd = c.Command("INSERT INTO job_log(job_id, seq, start_offset, end_offset, text) VALUES(@id, @seq, @start, @end, @text)")
            .With("@id", jobId).With("@seq", line.Seq).With("@start", line.StartOffset).With("@end", line.EndOffset).With("@text", line.Text);
        cmd.ExecuteNonQuery();
    }

    public JobLogLine? GetLastLogLine(string jobId)
    {
        using var c = db.Open();
        using var cmd = c.Command("SELECT seq, start_offset, end_offset, text FROM job_log WHERE job_id = @id ORDER BY seq DESC LIMIT 1").With("@id", jobId);
        using var r = cmd.ExecuteReader();
        return r.Read() ? new JobLogLine(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3)) : null;
    }

    public Task<IReadOnlyList<JobLogLine>> ReadLogAfterSeqAsync(string jobId, long afterSeq, int max, CancellationToken cancellationToken) =>
        ReadLogAsync("seq > @n", jobId, afterSeq, max, cancellationToken);

    public Task<IReadOnlyList<JobLogLine>> ReadLogFromOffsetAsync(string jobId, long offset, int max, CancellationToken cancellationToken) =>
        ReadLogAsync("end_offset > @n", jobId, offset, max, cancellationToken);

    private async Task<IReadOnlyList<JobLogLine>> ReadLogAsync(string condition, string jobId, long n, int max, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT seq, start_offset, end_offset, text FROM job_log WHERE job_id = @id AND {condition} ORDER BY seq LIMIT @max")
            .With("@id", jobId).With("@n", n).With("@max", max);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<JobLogLine>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(new JobLogLine(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3)));
        return list;
    }
}
