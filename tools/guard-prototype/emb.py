import json, subprocess, os, pickle
ROOT=os.path.abspath(os.path.join(os.path.dirname(__file__),'..','..'))
CACHE=os.path.join(os.environ.get('TMPDIR','/tmp'),'afterimage-guard-emb.pkl')
cache = pickle.load(open(CACHE,'rb')) if os.path.exists(CACHE) else {}
def embed(texts):
    need=[t for t in set(texts) if t not in cache and '\n' not in t]
    if need:
        out=subprocess.run([os.path.join(ROOT,'.build/release/afterimage'),'embed','--model-dir',os.path.join(ROOT,'models/all-MiniLM-L6-v2')],input='\n'.join(need)+'\n',capture_output=True,text=True,check=True).stdout
        for line in out.splitlines():
            r=json.loads(line); cache[r['text']]=r['embedding']
        pickle.dump(cache,open(CACHE,'wb'))
    return [cache[t] for t in texts]
def cos(a,b): return sum(x*y for x,y in zip(a,b))
