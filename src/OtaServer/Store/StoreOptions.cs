using System.ComponentModel.DataAnnotations;

namespace OtaServer.Store;

/// <summary>The <c>OtaServer:Store</c> section (env form: <c>OtaServer__Store__FileName</c>).</summary>
public sealed class StoreOptions
{
    public const string SectionName = "OtaServer:Store";

    /// <summary>Only <c>sqlite</c> today; the seam (<see cref="IFleetStore"/>, <see cref="IJobStore"/>) leaves room for others.</summary>
    [RegularExpression("^sqlite$", ErrorMessage = "OtaServer:Store:Provider must be 'sqlite' (the only provider in this build).")]
    public string Provider { get; set; } = "sqlite";

    /// <summary>Database file, relative to the data folder.</summary>
    [Required]
    public string FileName { get; set; } = "ota.db";

    /// <summary>How long a writer waits for the database lock before failing.</summary>
    [Range(0, 600_000)]
    public int BusyTimeoutMs { get; set; } = 5000;

    /// <summary>Idle connections kept open for reuse.</summary>
    [Range(1, 256)]
    public int MaxIdleConnections { get; set; } = 16;
}
