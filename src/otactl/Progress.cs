namespace OtaCtl;

/// <summary>A progress bar on a terminal; plain lines (every 10 %) when the output is redirected.</summary>
public sealed class Progress
{
    private readonly TextWriter _out;
    private readonly bool _terminal;
    private int _lastShown = -1;

    private Progress(TextWriter output, bool terminal)
    {
        _out = output;
        _terminal = terminal;
    }

    public static Progress For(TextWriter output) =>
        new(output, ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);

    public void Line(string text) => _out.WriteLine(text);

    /// <summary>
    /// <paramref name="done"/> of <paramref name="total"/> objects sent (the total may still grow while the
    /// missing-objects queries run), <paramref name="bytes"/> so far.
    /// </summary>
    public void Report(int done, int total, long bytes)
    {
        var pct = total <= 0 ? 100 : (int)(Math.Min(done, total) * 100L / total);
        if (_terminal)
        {
            if (pct == _lastShown)
                return;
            _lastShown = pct;
            var filled = pct * 30 / 100;
            _out.Write($"\r[{new string('#', filled)}{new string('.', 30 - filled)}] {pct,3}% {done} / {total} objects, {bytes / 1048576.0:0.0} MiB");
        }
        else if (pct / 10 != _lastShown / 10 || _lastShown < 0)
        {
            _lastShown = pct;
            _out.WriteLine($"uploaded {done} of {total} objects, {bytes} bytes ({pct}%)");
        }
    }

    public void Done()
    {
        if (_terminal)
            _out.WriteLine();
    }
}
