using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;

namespace AnomalyActors.Node.Settings;

/// <summary>
/// Which detectors each stream gets: a default list and glob overrides over the stream key
/// (first match wins). Detector blocks are parsed and validated once, at start-up.
/// </summary>
public sealed class DetectionSettings
{
    private readonly IReadOnlyList<(Regex Match, string Pattern, DetectorOptions[] Detectors)> _overrides;

    public DetectionSettings(DetectorOptions[] defaults, IReadOnlyList<(string Pattern, DetectorOptions[] Detectors)> overrides)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if (defaults.Length == 0)
        {
            throw new ArgumentException("At least one default detector is needed.", nameof(defaults));
        }

        Defaults = defaults;
        _overrides = overrides.Select(o => (GlobToRegex(o.Pattern), o.Pattern, o.Detectors)).ToArray();
    }

    public DetectorOptions[] Defaults { get; }

    public DetectorOptions[] OptionsFor(string streamKey)
    {
        foreach (var (match, _, detectors) in _overrides)
        {
            if (match.IsMatch(streamKey))
            {
                return detectors;
            }
        }

        return Defaults;
    }

    public DetectorSet CreateFor(string streamKey)
    {
        var options = OptionsFor(streamKey);
        var detectors = new IDetector[options.Length];
        for (var i = 0; i < options.Length; i++)
        {
            detectors[i] = options[i].Create();
        }

        // Records print every option value, so the text changes exactly when the configuration does.
        return new DetectorSet(detectors, string.Join("|", options.Select(o => o.ToString())));
    }

    public static DetectionSettings FromConfig(Config c, string source)
    {
        var blocks = c.GetConfig("detectors");
        if (blocks is null || blocks.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section 'anomaly-actors.detection.detectors' ({source}).");
        }

        DetectorOptions[] Resolve(IList<string> names, string key)
        {
            if (names.Count == 0)
            {
                throw new ConfigurationException($"'{key}' lists no detector ({source}).");
            }

            return names.Select(name =>
            {
                var block = blocks.GetConfig(name);
                if (block is null || block.IsEmpty)
                {
                    throw new ConfigurationException(
                        $"'{key}' names detector '{name}', but there is no block 'anomaly-actors.detection.detectors.{name}' ({source}).");
                }

                return DetectorConfigReader.Read(block, $"anomaly-actors.detection.detectors.{name}", source);
            }).ToArray();
        }

        var defaults = Resolve(c.GetStringList("default"), "anomaly-actors.detection.default");
        var overrides = new List<(string, DetectorOptions[])>();
        var overrideList = c.GetValue("overrides");
        if (overrideList is not null && !overrideList.IsEmpty)
        {
            var i = 0;
            foreach (var entry in overrideList.GetArray())
            {
                var key = $"anomaly-actors.detection.overrides[{i++}]";
                var obj = new Config(new HoconRoot(entry));
                var pattern = obj.GetString("match", null)
                    ?? throw new ConfigurationException($"'{key}.match' is missing ({source}).");
                overrides.Add((pattern, Resolve(obj.GetStringList("detectors"), key + ".detectors")));
            }
        }

        return new DetectionSettings(defaults, overrides);
    }

    private static Regex GlobToRegex(string pattern)
    {
        var escaped = Regex.Escape(pattern).Replace("\\*", "[^/]*", StringComparison.Ordinal).Replace("\\?", "[^/]", StringComparison.Ordinal);
        return new Regex("^" + escaped + "$", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }
}

/// <summary>Turns one detector block (<c>type = ...</c> plus its parameters) into validated options.</summary>
public static class DetectorConfigReader
{
    public static DetectorOptions Read(Config block, string path, string source)
    {
        var type = block.GetString("type", null)
            ?? throw new ConfigurationException($"'{path}.type' is missing ({source}).");
        try
        {
            return type switch
            {
                "ewma" => ReadEwma(block, path, source),
                "window-zscore" => new WindowZScoreOptions(
                    windowMs: (long)block.GetTimeSpan("window", TimeSpan.FromSeconds(20)).TotalMilliseconds,
                    slideMs: block.HasPath("slide") ? (long)block.GetTimeSpan("slide").TotalMilliseconds : null,
                    threshold: block.GetDouble("threshold", 2.0)),
                "threshold" => new ThresholdOptions(
                    min: block.GetDouble("min", double.NegativeInfinity),
                    max: block.GetDouble("max", double.PositiveInfinity),
                    scale: block.HasPath("scale") ? block.GetDouble("scale") : null),
                _ => throw new ConfigurationException(
                    $"'{path}.type' is '{type}'; known types: {string.Join(", ", KnownTypes)} ({source})."),
            };
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"'{path}': {e.Message} ({source}).", e);
        }
    }

    public static IReadOnlyList<string> KnownTypes { get; } = ["ewma", "window-zscore", "threshold"];

    private static EwmaBandOptions ReadEwma(Config c, string path, string source)
    {
        var defaults = EwmaBandOptions.Default;
        var mode = c.GetString("sigma-mode", "population");
        return new EwmaBandOptions(
            alpha: c.GetDouble("alpha", defaults.Alpha),
            warmupAlpha: c.GetDouble("warm-up-alpha", defaults.WarmupAlpha),
            warmupReadings: c.GetInt("warm-up-readings", defaults.WarmupReadings),
            window: c.GetInt("window", defaults.Window),
            gamma: c.GetDouble("sigma-alpha", defaults.Gamma),
            k: c.GetDouble("band-width", defaults.K),
            alarmAfter: c.HasPath("alarm-after") ? c.GetLong("alarm-after") : null,
            sigmaMode: mode switch
            {
                "population" => SigmaMode.Population,
                "notebook" => SigmaMode.Notebook,
                _ => throw new ConfigurationException($"'{path}.sigma-mode' is '{mode}'; expected population or notebook ({source})."),
            },
            minBandWidth: c.GetDouble("min-band", defaults.MinBandWidth),
            minRelativeBandWidth: c.GetDouble("min-relative-band", defaults.MinRelativeBandWidth));
    }
}
