using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace AnomalyActors.Testing;

/// <summary>An HTTP endpoint on a free loopback port that answers with the statuses it is given in turn (200 once they run out), keeping every body.</summary>
public sealed class WebhookSink : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<HttpStatusCode> _answers;
    private readonly Task _serving;

    public WebhookSink(params HttpStatusCode[] answers)
    {
        _answers = new ConcurrentQueue<HttpStatusCode>(answers);
        Port = FreePort.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/hook");

    /// <summary>Every request in arrival order: its answer and its JSON body.</summary>
    public ConcurrentQueue<(HttpStatusCode Answer, JsonElement Body, string? Authorization)> Requests { get; } = new();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream);
            var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone();
            var answer = _answers.TryDequeue(out var next) ? next : HttpStatusCode.OK;
            Requests.Enqueue((answer, body, context.Request.Headers["Authorization"]));
            context.Response.StatusCode = (int)answer;
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
