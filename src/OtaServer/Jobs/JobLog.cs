using System.Globalization;
using System.Text;
using OtaServer.Store;

namespace OtaServer.Jobs;

/// <summary>Writes timestamped lines to a job's log in the store; continues after the last stored line (re-queued jobs).</summary>
internal sealed class JobLog : IJobLog
{
    private readonly string _jobId;
    private readonly IJobStore _store;
    private readonly JobSignals _signals;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _seq;
    private long _offset;

    public JobLog(string jobId, IJobStore store, JobSignals signals, TimeProvider time)
    {
        _jobId = jobId;
        _store = store;
        _signals = signals;
        _time = time;
        var last = store.GetLastLogLine(jobId);
        _seq = last?.Seq ?? 0;
        _offset = last?.EndOffset ?? 0;
    }

    public void Write(string line)
    {
        var stamp = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        lock (_lock)
        {
            foreach (var part in (line ?? "").ReplaceLineEndings("\n").Split('\n'))
            {
                var text = stamp + " " + part + "\n";
                var start = _offset;
                var end = start + Encoding.UTF8.GetByteCount(text);
                _store.AppendLog(_jobId, new JobLogLine(_seq + 1, start, end, text));
                _seq++;
                _offset = end;
            }
        }
        _signals.Changed(_jobId);
    }
}
