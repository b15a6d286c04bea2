using System.Collections.Concurrent;
using OtaServer.Store;

namespace OtaServer.Waves;

/// <summary>The open wave of each tag, with its scheduled devices, in memory for the check-in path.</summary>
internal sealed class WaveCatalog(IWaveStore store)
{
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile WaveSnapshot? _snapshot;

    public ValueTask<WaveSnapshot> GetAsync(CancellationToken cancellationToken) =>
        _snapshot is { } s ? ValueTask.FromResult(s) : new ValueTask<WaveSnapshot>(LoadAsync(false, cancellationToken));

    public Task<WaveSnapshot> ReloadAsync(CancellationToken cancellationToken) => LoadAsync(true, cancellationToken);

    private async Task<WaveSnapshot> LoadAsync(bool force, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            if (!force && _snapshot is { } existing)
                return existing;
            var waves = await store.ListWavesAsync(cancellationToken);
            var byTag = new Dictionary<string, WaveView>(StringComparer.Ordinal);
            // The newest wave of each tag that is not completed decides for its scheduled devices.
            foreach (var wave in waves.Where(w => w.Status != WaveStatus.Completed).OrderBy(w => w.CreatedAt))
            {
                var devices = await store.ListWaveDevicesAsync(wave.Name, cancellationToken);
                byTag[wave.Tag] = new WaveView(wave, devices, await store.ListWaveGroupsAsync(wave.Name, cancellationToken));
            }
            var snapshot = new WaveSnapshot(waves, byTag);
            _snapshot = snapshot;
            return snapshot;
        }
        finally
        {
            _reload.Release();
        }
    }
}

internal sealed class WaveSnapshot(IReadOnlyList<Wave> all, Dictionary<string, WaveView> byTag)
{
    public IReadOnlyList<Wave> All { get; } = all;

    public WaveView? ForTag(string tag) => byTag.GetValueOrDefault(tag);

    public Wave? Find(string name) => All.FirstOrDefault(w => w.Name == name);
}

/// <summary>A wave and what its devices reported (updated in place as results arrive).</summary>
internal sealed class WaveView
{
    public WaveView(Wave wave, IReadOnlyList<WaveDevice> devices, IReadOnlyDictionary<string, int> groups)
    {
        Wave = wave;
        Groups = groups;
        foreach (var d in devices)
        {
            Scheduled.Add(d.Device);
            if (d.Result is { } r)
                Results[d.Device] = r;
        }
    }

    public Wave Wave { get; }

    /// <summary>Groups rolled out whole (with their step): devices joining them later are scheduled at check-in.</summary>
    public IReadOnlyDictionary<string, int> Groups { get; }

    public HashSet<string> Scheduled { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, string> Results { get; } = new(StringComparer.Ordinal);

    /// <summary>Scheduled devices seen (last-seen written) since this view was loaded.</summary>
    public ConcurrentDictionary<string, bool> Seen { get; } = new(StringComparer.Ordinal);
}
