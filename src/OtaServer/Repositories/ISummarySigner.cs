namespace OtaServer.Repositories;

/// <summary>Signs a repository's summary (implemented in <c>Signing/</c>); a repository asks it each time its summary changes.</summary>
public interface ISummarySigner
{
    /// <summary>False when no signing key is configured: summaries go unsigned and no <c>summary.sig</c> is kept.</summary>
    bool Enabled { get; }

    /// <summary>The <c>summary.sig</c> of <paramref name="summary"/> (an <c>a{sv}</c> with <c>ostree.gpgsigs</c>).</summary>
    byte[] SignSummary(byte[] summary);
}
