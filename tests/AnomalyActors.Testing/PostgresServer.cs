using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace AnomalyActors.Testing;

/// <summary>
/// A real PostgreSQL server for the tests, started here on a free loopback port in a throw-away
/// cluster directory (initdb + pg_ctl; as root through runuser, since initdb refuses root) and
/// stopped at the end. ANOMALY_ACTORS_TEST_POSTGRES (a connection string to a database whose user
/// may create databases) uses an existing server instead. Missing binaries fail the tests: a
/// PostgreSQL test that silently skips proves nothing.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? _clusterDirectory;
    private string? _binDirectory;
    private string _adminConnectionString = string.Empty;

    private string? _existing;

    /// <summary>A server that runs already (e.g. a benchmark's --postgres): databases are created there, nothing is started.</summary>
    public static PostgresServer UsingExisting(string adminConnectionString) => new() { _existing = adminConnectionString };

    public async Task InitializeAsync()
    {
        var external = _existing ?? Environment.GetEnvironmentVariable("ANOMALY_ACTORS_TEST_POSTGRES");
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = external;
            return;
        }

        _binDirectory = FindBinDirectory();
        _clusterDirectory = Path.Combine(Path.GetTempPath(), "anomaly-actors-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_clusterDirectory);
        var dataDirectory = Path.Combine(_clusterDirectory, "data");
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await Run("chown", $"-R postgres:postgres {_clusterDirectory}", asPostgres: false);
        }

        var port = FreePort();
        await Run(Path.Combine(_binDirectory, "initdb"), $"-D {dataDirectory} -U postgres --auth=trust -E UTF8 --no-sync", asRoot);
        await Run(
            Path.Combine(_binDirectory, "pg_ctl"),
            $"-D {dataDirectory} -l {_clusterDirectory}/server.log -w -t 60 -o \"-p {port} -k {_clusterDirectory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=1000\" start",
            asRoot);
        _adminConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false";
    }

    /// <summary>Creates an empty database and returns a connection string to it.</summary>
    /// <summary>The server's administrator connection string (set once initialised).</summary>
    public string AdminConnectionString => _adminConnectionString;

    public async Task<string> CreateDatabaseAsync()
    {
        var name = "aa_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, Pooling = true };
        return builder.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_clusterDirectory is null || _binDirectory is null)
        {
            return;
        }

        await Run(Path.Combine(_binDirectory, "pg_ctl"), $"-D {_clusterDirectory}/data -m immediate -w stop", Environment.UserName == "root");
        Directory.Delete(_clusterDirectory, recursive: true);
    }

    private static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().ToArray()
            : [];
        return candidates.FirstOrDefault() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them (apt-get install postgresql) " +
            "or set ANOMALY_ACTORS_TEST_POSTGRES to a connection string.");
    }

    private static async Task Run(string program, string arguments, bool asPostgres)
    {
        var start = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {program} {arguments}")
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {arguments} exited with {process.ExitCode}: {await output}{await error}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
