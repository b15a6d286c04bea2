using System.ComponentModel.DataAnnotations;

namespace OtaServer.Store;

/// <summary>The <c>OtaServer:Store</c> section (env form: <c>OtaServer__Store__FileName</c>).</summary>
public sealed class StoreOptions : IValidatableObject
{
    public const string SectionName = "OtaServer:Store";

    /// <summary><c>sqlite</c> (the embedded default) or <c>postgres</c> (with <see cref="ConnectionString"/>); case does not matter.</summary>
    [RegularExpression("^(?i:sqlite|postgres)$", ErrorMessage = "OtaServer:Store:Provider must be 'sqlite' or 'postgres'.")]
    public string Provider { get; set; } = "sqlite";

    /// <summary>The Npgsql connection string when <see cref="Provider"/> is <c>postgres</c> (env form: <c>OtaServer__Store__ConnectionString</c>).</summary>
    public string? ConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>Database file, relative to the data folder.</summary>
    [Required]
    public string FileName { get; set; } = "ota.db";

    /// <summary>How long a writer waits for the database lock before failing.</summary>
    [Range(0, 600_000)]
    public int BusyTimeoutMs { get; set; } = 5000;

    /// <summary>Idle connections kept open for reuse.</summary>
    [Range(1, 256)]
    public int MaxIdleConnections { get; set; } = 16;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsPostgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult(
                "OtaServer:Store:Provider is 'postgres' but OtaServer:Store:ConnectionString is empty: set it, for example 'Host=db;Database=ota;Username=ota;Password=...'.",
                [nameof(ConnectionString)]);
        }
    }
}
