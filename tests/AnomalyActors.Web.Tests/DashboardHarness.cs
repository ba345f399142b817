using System.Diagnostics.Metrics;
using System.Net;
using AnomalyActors.Core.Events;
using AnomalyActors.Testing;
using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Metrics;
using AnomalyActors.Web.Series;

namespace AnomalyActors.Web.Tests;

/// <summary>A dashboard on a free loopback port over a board the test fills, with its acknowledgements in a scratch directory.</summary>
internal sealed class DashboardHarness : IAsyncDisposable
{
    private readonly Meter _meter = new("AnomalyActors.Tests");
    private readonly PrometheusExporter _exporter;
    private AcknowledgementLog _acknowledgements;

    private DashboardHarness(WebSettings settings, string directory)
    {
        Settings = settings;
        Directory = directory;
        _exporter = new PrometheusExporter(_meter);
        _meter.CreateObservableCounter("anomaly_actors_readings_scored", () => 1234L, "{reading}", "Readings scored.");
        _acknowledgements = AcknowledgementLog.Open(AcknowledgementsPath, Board);
    }

    public WebSettings Settings { get; }
    public string Directory { get; }
    public AlertBoard Board { get; private set; } = new(1000);
    public SeriesStore Series { get; } = new(500, 10);
    public DashboardServer Server { get; private set; } = null!;
    public Uri Address => Server.Address;
    private string AcknowledgementsPath => Path.Combine(Directory, "acknowledgements.jsonl");

    public static async Task<DashboardHarness> StartAsync(string? token = null, IPAddress? address = null)
    {
        var harness = new DashboardHarness(new WebSettings(true, address ?? IPAddress.Loopback, 0, token, 1000), ScratchDirectory.Create("anomaly-actors-web"));
        await harness.StartServerAsync();
        return harness;
    }

    /// <summary>Stops the server and starts a new one over a new board and the same acknowledgements file, as a node restart does.</summary>
    public async Task RestartAsync(params IEpisodeEvent[] alertsBefore)
    {
        await Server.DisposeAsync();
        _acknowledgements.Dispose();
        Board = new AlertBoard(1000);
        foreach (var alert in alertsBefore)
        {
            Board.Apply(alert);
        }

        _acknowledgements = AcknowledgementLog.Open(AcknowledgementsPath, Board);
        await StartServerAsync();
    }

    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    private async Task StartServerAsync() =>
        Server = await DashboardServer.StartAsync(Settings, new DashboardSources(Board, _acknowledgements, Series, _exporter,
            () => new OperationsView("test-site", 1234, 1234, 2, 1, 0, new Dictionary<string, long> { ["InvalidJson"] = 3 }, [new MemberView("akka.tcp://anomaly-actors@127.0.0.1:1", "Up", true, true)])));

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _acknowledgements.Dispose();
        _exporter.Dispose();
        _meter.Dispose();
    }

    public static EpisodeOpened Open(string sensor, long episode, double grade = 0.95) =>
        new(sensor, episode, episode * 10, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 115.5, grade);

    public static EpisodeClosed Close(string sensor, long episode) =>
        new(sensor, episode, episode * 10 + 5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 3, 0.97);
}
